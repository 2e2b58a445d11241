// A smoke test of the demo service: 1 VU for 1 minute through health, login, browsing and one order.
// Run: python -m include.perfpipe loadtest --k6-script include/config/k6/load-test-smoke.js --target URL --out DIR
import http from 'k6/http';
import { check, group, sleep } from 'k6';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const JSON_HEADERS = { 'Content-Type': 'application/json' };

export const options = {
  vus: 1,
  duration: '1m',
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export default function () {
  check(http.get(`${BASE_URL}/health`, { tags: { name: 'GET /health', class: 'health' } }), {
    'healthy': (r) => r.status === 200,
  });
  const login = http.post(`${BASE_URL}/auth/login`, JSON.stringify({ username: 'user-1', password: 'pw-1' }), {
    headers: JSON_HEADERS,
    tags: { name: 'POST /auth/login' },
  });
  check(login, { 'logged in': (r) => r.status === 200 });
  const auth = { headers: { ...JSON_HEADERS, Authorization: `Bearer ${login.json('token')}` } };
  group('shop', () => {
    check(http.get(`${BASE_URL}/items?limit=5`, { ...auth, tags: { name: 'GET /items' } }), {
      'items listed': (r) => r.status === 200,
    });
    const order = http.post(`${BASE_URL}/orders`, JSON.stringify({ item_id: 1, quantity: 1 }), {
      ...auth,
      tags: { name: 'POST /orders' },
    });
    check(order, { 'order created': (r) => r.status === 201 });
  });
  sleep(1);
}

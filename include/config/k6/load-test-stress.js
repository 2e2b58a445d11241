// A stress test of the demo service: browsing VUs ramped to 400, held, then released, to find where
// latency and errors give way.
// Run: python -m include.perfpipe loadtest --k6-script include/config/k6/load-test-stress.js --target URL --out DIR
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Rate } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const USERS = 1000;
const errorRate = new Rate('error_rate');

export const options = {
  stages: [
    { duration: '2m', target: 200 },
    { duration: '2m', target: 400 },
    { duration: '3m', target: 400 },
    { duration: '1m', target: 0 },
  ],
  thresholds: {
    http_req_duration: ['p(95)<2000', 'p(99)<5000'],
    http_req_failed: ['rate<0.05'],
    error_rate: ['rate<0.05'],
  },
};

let token = null;

export default function () {
  if (!token) {
    const n = ((__VU - 1) % USERS) + 1;
    const login = http.post(`${BASE_URL}/auth/login`, JSON.stringify({ username: `user-${n}`, password: `pw-${n}` }), {
      headers: { 'Content-Type': 'application/json' },
      tags: { name: 'POST /auth/login' },
    });
    token = login.status === 200 ? login.json('token') : null;
  }
  const id = 1 + Math.floor(Math.random() * 1000);
  const res = http.get(`${BASE_URL}/items/${id}`, {
    headers: { Authorization: `Bearer ${token}` },
    tags: { name: 'GET /items/{id}' },
  });
  errorRate.add(res.status >= 400);
  check(res, { 'item read': (r) => r.status === 200 });
  sleep(0.5);
}

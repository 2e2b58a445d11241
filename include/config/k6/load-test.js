// A load test of the demo service: browsing and buying scenarios ramping to 200 VUs together, a steady
// health probe, custom metrics (error rate, order duration, a request counter) and thresholds.
// Run: python -m include.perfpipe loadtest --k6-script include/config/k6/load-test.js --target URL --out DIR
// The target arrives as __ENV.BASE_URL; a `class` tag picks our threshold class (default api).
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const JSON_HEADERS = { 'Content-Type': 'application/json' };
const USERS = 1000; // the demo service's user-1 .. user-1000, password pw-<n>

const errorRate = new Rate('error_rate');
const orderDuration = new Trend('order_duration', true);
const requestCount = new Counter('request_count');

// browse and buy alike: up to their level over 1 m, held for 3 m, down over 1 m
function rampingTo(exec, vus) {
  return {
    executor: 'ramping-vus',
    exec,
    stages: [
      { duration: '1m', target: vus },
      { duration: '3m', target: vus },
      { duration: '1m', target: 0 },
    ],
  };
}

export const options = {
  scenarios: {
    browse: rampingTo('browse', 150),
    buy: rampingTo('buy', 50),
    health: {
      executor: 'constant-arrival-rate',
      exec: 'health',
      rate: 5,
      timeUnit: '1s',
      duration: '5m',
      preAllocatedVUs: 2,
      maxVUs: 5,
    },
  },
  thresholds: {
    http_req_duration: ['p(95)<500', 'p(99)<1000'],
    'http_req_duration{scenario:buy}': ['p(95)<800'],
    http_req_failed: ['rate<0.01'],
    error_rate: ['rate<0.01'],
    order_duration: ['p(95)<800'],
    checks: ['rate>0.99'],
  },
};

let token = null; // each VU logs in once and keeps its token

function send(method, path, body, name, auth = true) {
  const headers = auth ? { ...JSON_HEADERS, Authorization: `Bearer ${token}` } : JSON_HEADERS;
  const res = http.request(method, `${BASE_URL}${path}`, body && JSON.stringify(body), { headers, tags: { name } });
  requestCount.add(1);
  errorRate.add(res.status >= 400);
  return res;
}

function login() {
  const n = ((__VU - 1) % USERS) + 1;
  const res = send('POST', '/auth/login', { username: `user-${n}`, password: `pw-${n}` }, 'POST /auth/login', false);
  check(res, { 'logged in': (r) => r.status === 200 });
  token = res.status === 200 ? res.json('token') : null;
}

export function browse() {
  if (!token) login();
  group('browse', () => {
    const list = send('GET', '/items?limit=20', null, 'GET /items');
    check(list, { 'items listed': (r) => r.status === 200 });
    const id = 1 + Math.floor(Math.random() * 1000);
    check(send('GET', `/items/${id}`, null, 'GET /items/{id}'), { 'item read': (r) => r.status === 200 });
    send('GET', '/items/search?q=books&limit=10', null, 'GET /items/search');
  });
  sleep(1);
}

export function buy() {
  if (!token) login();
  group('buy', () => {
    const id = 1 + Math.floor(Math.random() * 1000);
    const order = send('POST', '/orders', { item_id: id, quantity: 1 }, 'POST /orders');
    orderDuration.add(order.timings.duration);
    check(order, { 'order created': (r) => r.status === 201 });
  });
  sleep(1);
}

// run by itself when --vus or --duration replace the scenarios (as k6's own flags do)
export default function () {
  browse();
}

export function health() {
  const res = http.get(`${BASE_URL}/health`, { tags: { name: 'GET /health', class: 'health' } });
  requestCount.add(1);
  check(res, { 'healthy': (r) => r.status === 200 });
}

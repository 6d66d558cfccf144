"""A tiny HTTP client for the ops scripts (standard library only)."""

import datetime as dt
import json
import time
import urllib.error
import urllib.request

PASSWORD = "demo-password-2026"


class Resp:
    def __init__(self, status, ctype, body, elapsed):
        self.status, self.ctype, self.body, self.elapsed = status, ctype, body, elapsed

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def __repr__(self):
        return f"{self.status} {self.ctype} {self.body[:300]!r}"


def call(base, method, path, token=None, body=None, headers=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Resp(r.status, r.headers.get("Content-Type", ""), r.read(), time.monotonic() - start)
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers.get("Content-Type", ""), e.read(), time.monotonic() - start)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
        return Resp(0, "", str(e).encode(), time.monotonic() - start)


def ok(r, *codes):
    if r.status not in codes:
        raise SystemExit(f"unexpected answer (wanted {codes}): {r!r}")
    return r.json()


def login(base, email):
    return ok(call(base, "POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD}), 200)["token"]


def round_body(name="运维演练轮次", kind="venture_philanthropy", **extra):
    now = dt.datetime.now(dt.timezone.utc)
    body = {
        "name": name,
        "year": now.year,
        "kind": kind,
        "total_pool": "1000000.00",
        "grant_min": "10000",
        "grant_max": "200000",
        "opens_at": (now - dt.timedelta(days=1)).isoformat(),
        "closes_at": (now + dt.timedelta(days=30)).isoformat(),
        "focus_areas": ["elderly", "children", "waste_sorting"],
    }
    body.update(extra)
    return body


def open_round(base, admin, **extra):
    rid = ok(call(base, "POST", "/api/v1/rounds", admin, round_body(**extra)), 201)["id"]
    ok(call(base, "POST", f"/api/v1/rounds/{rid}/open", admin, {}), 200)
    return rid


def content(title):
    return {
        "title": title,
        "focus_area": "elderly",
        "summary": "为社区独居老人提供助餐、陪伴与健康监测服务",
        "beneficiaries": "玉山镇独居老人",
        "beneficiary_count": 120,
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
        "requested_grant": "80000.00",
        "co_funding": "20000.00",
        "team": [{"name": "王芳", "role": "项目负责人", "party_member": True}],
        "party_activity_count": 2,
        "party_activity_description": "重温入党誓词、党员志愿服务日",
        "red_project": True,
    }


BUDGET = {"lines": [
    {"category": "personnel", "description": "社工薪酬", "quantity": "1", "unit_cost": "30000.00", "funded_by": "grant"},
    {"category": "activities", "description": "助餐活动", "quantity": "1", "unit_cost": "50000.00", "funded_by": "grant"},
    {"category": "materials", "description": "健康监测设备", "quantity": "4", "unit_cost": "5000", "funded_by": "self"},
]}


def ready_draft(base, token, round_id, title):
    aid = ok(call(base, "POST", f"/api/v1/rounds/{round_id}/applications", token, content(title)), 201)["id"]
    ok(call(base, "PUT", f"/api/v1/applications/{aid}/budget", token, BUDGET), 200)
    return aid

"""Times the admin console's customer search over HTTP, as an operator's browser would call it.

Usage: python3 search.py PORT LOGIN ONE_TIME_PASSWORD
The operator must be new (created by `mamori operators create --role platform_admin`): the script
does its first sign-in (sets a password, enrolls a TOTP it computes itself). See README.md here.
"""
import base64, hashlib, hmac, json, statistics, struct, sys, time, http.client

BASE = ("127.0.0.1", int(sys.argv[1]))
LOGIN, OTP_PASSWORD = sys.argv[2], sys.argv[3]
conn = http.client.HTTPConnection(*BASE)
cookie, csrf = "", ""

def call(method, path, body=None):
    global cookie
    headers = {"content-type": "application/json"}
    if cookie: headers["cookie"] = cookie
    if csrf: headers["x-csrf-token"] = csrf
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse(); data = r.read()
    sc = r.getheader("set-cookie")
    if sc: cookie = sc.split(";")[0]
    return r.status, (json.loads(data) if data else None)

def totp(secret, t):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o+4])[0] & 0x7fffffff) % 1000000)

s, b = call("POST", "/v1/admin/session", {"login_name": LOGIN, "password": OTP_PASSWORD}); assert s == 200, b
csrf = b["csrf_token"]
s, b = call("POST", "/v1/admin/session/password", {"current_password": OTP_PASSWORD, "new_password": "Scale-Test-Passw0rd!"}); assert s == 200, b
s, b = call("POST", "/v1/admin/session/totp", {}); assert s == 200, b
s, b = call("POST", "/v1/admin/session/totp/confirm", {"code": totp(b["secret"], time.time())}); assert s == 200, b

def timed(label, path, n=50):
    lat = []
    for _ in range(n):
        t0 = time.perf_counter(); s, b = call("GET", path); lat.append((time.perf_counter() - t0) * 1000)
        assert s == 200, (path, s, b)
    lat.sort()
    print(f"{label:44s} p50 {statistics.median(lat):6.1f} ms  p95 {lat[int(len(lat)*0.95)-1]:6.1f} ms  rows {len(b.get('users', b.get('items', [])) if isinstance(b, dict) else '?')}")
    return b

bank = "/v1/admin/banks/jonan-shinkin/users"
timed("contract_number (exact, 1 of 1.2M)", bank + "?contract_number=0000500001&limit=50")
timed("user_id alone (333 of 1M match)", bank + "?user_id=u7&limit=50")
timed("credential_id (serial)", bank + "?credential_id=SN0000700000&limit=50")
first = timed("first page, no filter", bank + "?limit=50")
cur = first.get("next_cursor")
deep = bank + "?limit=50"
# walk 20 pages to reach a deep cursor
for _ in range(20):
    s, b = call("GET", bank + "?limit=50&cursor=" + cur); cur = b.get("next_cursor")
timed("page 21 by cursor", bank + "?limit=50&cursor=" + cur)
timed("other bank (200k users), first page", "/v1/admin/banks/shinkin-001/users?limit=50")
uid = first["users"][0]["id"] if "users" in first else first["items"][0]["id"]
timed("getCustomer", f"/v1/admin/banks/jonan-shinkin/users/{uid}")
timed("bank figures (24 h / 30 d)", "/v1/admin/banks/jonan-shinkin/figures", n=20)

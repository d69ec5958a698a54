#!/usr/bin/env python3
"""The cross-replica wake-up hop: a Gleap call parked on replica B, the
agent's webhook posted to replica A (both on one PostgreSQL store); the
hop is the time from the webhook leaving the sender to B's answer
(A's verify, commit and NOTIFY, B's wake-up and answer). Each sample is a new
conversation whose turn the webhook ends (a hand-off, so no settle window
is waited out). Prints RESULT hop_p50_ms=.. hop_p99_ms=.. hop_max_ms=.. n=..

    bench/hop.py A_URL B_URL SIGNING_KEY GLEAP_SECRET [SAMPLES]
"""
import hashlib, hmac, json, sys, threading, time, urllib.request

a, b, key, secret = sys.argv[1:5]
samples = int(sys.argv[5]) if len(sys.argv) > 5 else 200
run = f"{int(time.time())}"


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def waiting(url):
    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith("glbridge_gleap_waiting "):
            return float(line.split()[1])
    return 0.0


hops = []
for i in range(samples):
    conv = f"hop-{run}-{i}"
    answered = {}

    def call():
        body = json.dumps({"conversation": {"id": conv}, "session": {"userId": "u"}, "comments": []}).encode()
        post(f"{b}/gleap/action", body, {"Authorization": secret})
        answered["at"] = time.perf_counter()

    t = threading.Thread(target=call)
    t.start()
    deadline = time.time() + 10
    while waiting(b) < 1:  # parked on B
        if time.time() > deadline:
            sys.exit(f"the Gleap call on {b} never parked")
        time.sleep(0.002)
    event = json.dumps({"id": f"{conv}-h", "type": "conversation.hand_off", "sequence_number": 1,
                        "timestamp": "2026-12-06T00:00:00Z",
                        "data": {"conversation": {"id": f"gleap-{conv}", "customer_id": "u"},
                                 "target": "support", "reason_code": "bench", "reason": "hop"}}).encode()
    ts = int(time.time())
    sig = hmac.new(key.encode(), f"{ts}.".encode() + event, hashlib.sha256).hexdigest()
    sent = time.perf_counter()
    status, _ = post(f"{a}/webhooks/gradient-labs", event, {"X-GradientLabs-Signature": f"t={ts},v1={sig}"})
    if status // 100 != 2:
        sys.exit(f"webhook answered {status}")
    t.join()
    hops.append((answered["at"] - sent) * 1000)

hops.sort()
pct = lambda p: hops[min(len(hops) - 1, int(p / 100 * len(hops)))]
print(f"RESULT hop_p50_ms={pct(50):.2f} hop_p99_ms={pct(99):.2f} hop_max_ms={hops[-1]:.2f} n={len(hops)}")

import hashlib
import hmac
import time

def verify(secret, header, body, tolerance=300, now=None):
    """True when `header` (the Vetted-Signature header) signs `body` (the raw request bytes)."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False  # too old: a replayed request
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(expected, v) for k, v in parts)


if __name__ == "__main__":
    # verify.py SECRET HEADER BODY_FILE [NOW]: exit 0 when the signature holds.
    import sys
    secret, header, body_file = sys.argv[1:4]
    with open(body_file, "rb") as f:
        ok = verify(secret, header, f.read(), now=int(sys.argv[4]) if len(sys.argv) > 4 else None)
    sys.exit(0 if ok else 1)

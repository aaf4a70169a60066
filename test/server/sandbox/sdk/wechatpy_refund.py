"""Drives the sandbox with Python's wechatpy (an outside SDK), unchanged but for its base URL and the
merchant certificate; the sandbox CA is trusted through REQUESTS_CA_BUNDLE. Run by
wechatpy-refund.test.ts, which passes everything in the environment and reads one JSON line back.

  refund:  apply a refund, apply it again, over-refund, query it
  notify:  parse a refund notification (file path in NOTIFY_FILE) with wechatpy's own decryption
"""
import json
import os
import sys

from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

env = os.environ
pay = WeChatPay(
    appid=env["APPID"],
    api_key=env["API_KEY"],
    mch_id=env["MCH_ID"],
    mch_cert=env["CERT_PEM"],
    mch_key=env["KEY_PEM"],
    timeout=10,
)
pay.API_BASE_URL = env["BASE_URL"].rstrip("/") + "/"

out = {}
if sys.argv[1] == "refund":
    total = int(env["TOTAL_FEE"])
    first = pay.refund.apply(total_fee=total, refund_fee=int(env["REFUND_FEE"]), out_refund_no=env["OUT_REFUND_NO"],
                             out_trade_no=env["OUT_TRADE_NO"], notify_url=env["NOTIFY_URL"], refund_desc="wechatpy 退款")
    again = pay.refund.apply(total_fee=total, refund_fee=int(env["REFUND_FEE"]), out_refund_no=env["OUT_REFUND_NO"],
                             out_trade_no=env["OUT_TRADE_NO"])
    try:
        pay.refund.apply(total_fee=total, refund_fee=total, out_refund_no=env["OUT_REFUND_NO"] + "x", out_trade_no=env["OUT_TRADE_NO"])
        over = None
    except WeChatPayException as e:
        over = {"errcode": e.errcode, "errmsg": e.errmsg}
    query = pay.refund.query(out_refund_no=env["OUT_REFUND_NO"])
    out = {"first": dict(first), "again": dict(again), "over": over, "query": dict(query)}
elif sys.argv[1] == "notify":
    with open(env["NOTIFY_FILE"], encoding="utf-8") as f:
        out = {"notify": dict(pay.parse_refund_notify_result(f.read()))}
print(json.dumps(out, ensure_ascii=False))

import t from 'tap';
import fc from 'fast-check';
import { parseRefundQuery, validateRefundQuery, type RefundStatus } from '../../../server/src/wechat/refund-query.js';
import { WxPayError } from '../../../server/src/wechat/errors.js';

// Shaped like WeChat's documented refundquery answer (fields of refund 0 and a coupon 0_0).
const ANSWER: Record<string, string> = {
  return_code: 'SUCCESS',
  return_msg: 'OK',
  appid: 'wx2421b1c4370ec43b',
  mch_id: '10000100',
  nonce_str: 'TeqClE3i0mvn3DrK',
  sign: '1F2841558E233C33ABA71A961D27561C',
  result_code: 'SUCCESS',
  transaction_id: '1008450740201411110005820873',
  out_trade_no: '1415757673',
  total_fee: '101',
  cash_fee: '101',
  refund_count: '2',
  out_refund_no_0: '1415701182',
  refund_id_0: '2008450740201411110000174436',
  refund_channel_0: 'ORIGINAL',
  refund_fee_0: '1',
  settlement_refund_fee_0: '1',
  coupon_refund_fee_0: '0',
  coupon_refund_count_0: '1',
  coupon_type_0_0: 'CASH',
  coupon_refund_id_0_0: '10000',
  coupon_refund_fee_0_0: '0',
  refund_status_0: 'SUCCESS',
  refund_account_0: 'REFUND_SOURCE_RECHARGE_FUNDS',
  refund_recv_accout_0: '支付用户的零钱',
  refund_success_time_0: '2016-07-25 15:26:26',
  out_refund_no_1: '1415701183',
  refund_id_1: '2008450740201411110000174437',
  refund_fee_1: '50',
  refund_status_1: 'PROCESSING',
};

t.test('indexed fields become an array, typed', async (t) => {
  const r = parseRefundQuery(ANSWER);
  t.match(r, { out_trade_no: '1415757673', transaction_id: '1008450740201411110005820873', total_fee: 101, cash_fee: 101, refund_count: 2 });
  t.equal(r.refunds.length, 2);
  t.match(r.refunds[0], {
    out_refund_no: '1415701182',
    refund_id: '2008450740201411110000174436',
    refund_fee: 1,
    settlement_refund_fee: 1,
    refund_status: 'SUCCESS',
    refund_channel: 'ORIGINAL',
    refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
    refund_recv_accout: '支付用户的零钱',
    refund_success_time: '2016-07-25 15:26:26',
    coupon_refund_count: 1,
    coupons: [{ coupon_type: 'CASH', coupon_refund_id: '10000', coupon_refund_fee: 0 }],
  });
  t.equal(r.refunds[0]?.succeededAt?.toISOString(), '2016-07-25T07:26:26.000Z');
  t.match(r.refunds[1], { out_refund_no: '1415701183', refund_fee: 50, refund_status: 'PROCESSING', coupons: [] });
  t.equal(r.refunds[1]?.refund_success_time, undefined);
});

t.test('answers that do not add up are BAD_RESPONSE', async (t) => {
  const bad = (raw: Record<string, string>, field?: string) => {
    try {
      parseRefundQuery(raw);
      t.fail('expected BAD_RESPONSE');
    } catch (err) {
      t.type(err, WxPayError);
      t.equal((err as WxPayError).code, 'BAD_RESPONSE');
      t.equal((err as WxPayError).retriable, false);
      if (field) t.equal((err as WxPayError).field, field);
    }
  };
  bad({ ...ANSWER, refund_count: '3' }, 'refund_count');
  bad({ ...ANSWER, refund_count: '2.0' }, 'refund_count');
  bad({ ...ANSWER, refund_status_1: 'DONE' }, 'refund_status_1');
  bad({ ...ANSWER, refund_fee_1: '-5x' }, 'refund_fee_1');
  bad({ ...ANSWER, refund_success_time_0: '20160725152626' }, 'refund_success_time_0');
  bad({ ...ANSWER, refund_fee_7: '3' }, 'refund_fee_7');
  const { refund_id_1: _id, ...noId } = ANSWER;
  bad(noId, 'refund_id_1');
  const { transaction_id: _tx, ...noTx } = ANSWER;
  bad(noTx);
});

t.test('request rules: exactly one key, offset only for trade queries', async (t) => {
  t.same(validateRefundQuery({ out_refund_no: 'R-1|x*@_' }), { out_refund_no: 'R-1|x*@_' });
  t.same(validateRefundQuery({ out_trade_no: 'T1', offset: 10 }), { out_trade_no: 'T1', offset: '10' });
  const invalid = (req: unknown, field: string) => {
    try {
      validateRefundQuery(req as never);
      t.fail('expected INVALID_ARGUMENT');
    } catch (err) {
      t.equal((err as WxPayError).code, 'INVALID_ARGUMENT');
      t.equal((err as WxPayError).field, field);
    }
  };
  invalid({}, 'out_refund_no');
  invalid({ out_refund_no: 'a', refund_id: 'b' }, 'out_refund_no');
  invalid({ out_refund_no: 'x'.repeat(65) }, 'out_refund_no');
  invalid({ out_refund_no: 'R1', offset: 0 }, 'offset');
  invalid({ out_trade_no: 'T1', offset: -1 }, 'offset');
  invalid({ out_trade_no: 'T 1' }, 'out_trade_no');
});

const STATUSES: RefundStatus[] = ['SUCCESS', 'REFUNDCLOSE', 'PROCESSING', 'CHANGE'];

t.test('property: any list of refunds written as WeChat indexes them parses back to itself', async (t) => {
  const refundArb = fc.record({
    out_refund_no: fc.stringMatching(/^[0-9A-Za-z_\-|*@]{1,64}$/),
    refund_id: fc.stringMatching(/^[0-9]{29}$/),
    refund_fee: fc.integer({ min: 1, max: 10_000_000 }),
    refund_status: fc.constantFrom(...STATUSES),
    coupons: fc.array(fc.record({ coupon_refund_id: fc.stringMatching(/^[0-9]{5,10}$/), coupon_refund_fee: fc.integer({ min: 0, max: 1000 }) }), { maxLength: 3 }),
  });
  fc.assert(
    fc.property(fc.array(refundArb, { maxLength: 12 }), fc.integer({ min: 0, max: 40 }), (refunds, start) => {
      const raw: Record<string, string> = { transaction_id: '4200000000000000000000000001', out_trade_no: 'T1', total_fee: '100', cash_fee: '100', refund_count: String(refunds.length) };
      // A later page may number from its offset: indexes need only be distinct and ordered.
      refunds.forEach((r, i) => {
        const n = start + i;
        raw[`out_refund_no_${n}`] = r.out_refund_no;
        raw[`refund_id_${n}`] = r.refund_id;
        raw[`refund_fee_${n}`] = String(r.refund_fee);
        raw[`refund_status_${n}`] = r.refund_status;
        raw[`coupon_refund_count_${n}`] = String(r.coupons.length);
        r.coupons.forEach((c, m) => {
          raw[`coupon_refund_id_${n}_${m}`] = c.coupon_refund_id;
          raw[`coupon_refund_fee_${n}_${m}`] = String(c.coupon_refund_fee);
        });
      });
      const parsed = parseRefundQuery(raw);
      t.equal(parsed.refund_count, refunds.length);
      t.same(
        parsed.refunds.map((r) => ({ out_refund_no: r.out_refund_no, refund_id: r.refund_id, refund_fee: r.refund_fee, refund_status: r.refund_status, coupons: r.coupons })),
        refunds,
      );
    }),
    { numRuns: 200 },
  );
});

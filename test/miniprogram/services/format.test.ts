import t from 'tap';
import { formatFen, formatTime, isPayable, payButtonText, statusNote, statusText } from '../../../miniprogram/services/format.js';
import { resultView } from '../../../miniprogram/services/result-view.js';
import { ApiClientError } from '../../../miniprogram/services/http.js';
import { setLocale } from '../../../miniprogram/i18n/index.js';

// 简体中文 is the default; English is checked at the end.

t.test('fen to yuan', async (t) => {
  t.equal(formatFen(1250), '¥12.50');
  t.equal(formatFen(5), '¥0.05');
  t.equal(formatFen(0), '¥0.00');
  t.equal(formatFen(100), '¥1.00');
  t.equal(formatFen(123456789), '¥1234567.89');
  t.equal(formatFen(-1250), '-¥12.50');
  t.equal(formatFen(Number.NaN), '¥-');
});

t.test('times and statuses', async (t) => {
  t.match(formatTime('2024-05-01T04:30:00.000Z'), /^2024-05-0[12] \d\d:\d\d$/);
  t.equal(formatTime('nonsense'), '');
  t.equal(formatTime(undefined), '');
  t.equal(statusText('PAID'), '已支付');
  t.equal(statusText('PARTIALLY_REFUNDED'), '部分退款');
  t.equal(statusText('REFUNDED'), '已退款');
  t.equal(statusText('CREATED'), '待支付');
  t.ok(isPayable('CREATED'));
  t.ok(isPayable('PAYING'));
  t.notOk(isPayable('PAID'));
  t.notOk(isPayable('CLOSED'));
});

t.test('FAILED, as the server has it: payment failed, no money taken, payable again (zh-CN)', async (t) => {
  t.ok(isPayable('FAILED'), 'the server keeps FAILED payable');
  t.equal(statusText('FAILED'), '支付失败');
  t.equal(statusNote('FAILED'), '未扣款，可重新支付');
  t.equal(payButtonText('FAILED'), '重新支付');
  for (const s of ['CREATED', 'PAYING'] as const) {
    t.equal(statusNote(s), '', `${s}: no note`);
    t.equal(payButtonText(s), '支付');
  }
  t.match(resultView('failed'), {
    title: '支付失败',
    detail: '未扣款，可重新支付',
    icon: 'warn',
    canPayAgain: true,
    payAgainText: '重新支付',
    canRetry: false,
    busy: false,
  });
  t.notMatch(resultView('failed').detail, /new order/i, 'the same order is paid again, not a new one');
  t.match(resultView('cancelled'), { canPayAgain: true, payAgainText: '重新支付' });
});

t.test('result texts: "paid" only for paid; timeout says do not pay again', async (t) => {
  t.equal(resultView('paid').title, '支付成功');
  for (const s of ['cancelled', 'confirming', 'stopped', 'timeout', 'closed', 'failed', 'error', 'busy', 'refunded'] as const) {
    t.not(resultView(s).title, '支付成功', s);
    t.notMatch(resultView(s).title, /成功/, `${s}: nothing that reads as success`);
  }
  t.match(resultView('cancelled'), { title: '支付未完成', canPayAgain: true });
  t.match(resultView('timeout'), { title: '支付结果确认中', detail: /请勿重复支付/, canPayAgain: false });
  t.match(resultView('confirming'), { busy: true });
  t.match(resultView('error', new ApiClientError('network', 'NETWORK', 'x')), { canRetry: true, detail: /无法连接服务器/ });
  t.match(resultView('error', new ApiClientError('server', 'HTTP_500', 'x')), { canRetry: true });
  t.match(resultView('error', new ApiClientError('client', 'NOT_FOUND', 'Order not found')), {
    canRetry: false,
    detail: '订单不存在（NOT_FOUND）',
  });
  t.match(resultView('error', new ApiClientError('client', 'SOMETHING_NEW', 'a developer message')), {
    detail: '出了点问题，请重试（SOMETHING_NEW）',
  }, "a code the client does not know: a generic sentence and the code, never the server's English message");
});

t.test('formatFen round-trips every integer amount', async (t) => {
  const fc = await import('fast-check');
  fc.assert(
    fc.property(fc.integer({ min: -1e12, max: 1e12 }), (n) => {
      const s = formatFen(n);
      const m = /^(-?)¥(\d+)\.(\d\d)$/.exec(s);
      if (m === null) return false;
      const back = (Number(m[2]) * 100 + Number(m[3])) * (m[1] === '-' ? -1 : 1);
      return back === n || (n === 0 && back === 0);
    }),
  );
  t.pass('property held');
});

t.test('in English (a WeChat set to English): the same texts, translated', async (t) => {
  setLocale('en');
  t.teardown(() => setLocale('zh-CN'));
  t.equal(statusText('PAID'), 'Paid');
  t.equal(statusText('FAILED'), 'Payment failed');
  t.equal(statusNote('FAILED'), 'No money was taken; you can pay again');
  t.equal(payButtonText('FAILED'), 'Pay again');
  t.equal(payButtonText('CREATED'), 'Pay');
  t.match(resultView('paid'), { title: 'Paid' });
  t.match(resultView('timeout'), { title: 'We are confirming your payment', detail: /Do not pay again/ });
  t.match(resultView('error', new ApiClientError('network', 'NETWORK', 'x')), { detail: /Could not reach the server/ });
  t.match(resultView('error', new ApiClientError('client', 'ORDER_BUSY', 'x')), { detail: 'The order is being updated; try again in a moment (ORDER_BUSY)' });
  t.equal(formatFen(1234), '¥12.34', 'amounts read the same in both');
});

import t from 'tap';
import { gzipSync } from 'node:zlib';
import { billYuanToFen, BillParseError, parseBill, readBillAnswer, validateDownloadBill } from '../../../server/src/wechat/download-bill.js';
import { WxPayError } from '../../../server/src/wechat/errors.js';

// A bill in WeChat's documented format (the column lines are WeChat's; the values are made up): every
// field of a detail or summary line starts with a backtick, empty fields are a lone backtick.
const ALL_BILL = [
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注',
  '`2024-03-01 08:35:41,`wxd930ea5d5a258f4f,`10000100,`0,`,`4200000123202403011234567890,`T20240301001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`6.00,`0.00,`0,`0,`0.00,`0.00,`,`,`测试商品 "A",`,`0.04000,`0.60%,`6.00,`0.00,`',
  '`2024-03-01 09:00:02,`wxd930ea5d5a258f4f,`10000100,`0,`,`4200000123202403011234567890,`T20240301001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000012024030100000000001,`R1,`1.50,`0.00,`ORIGINAL,`SUCCESS,`测试商品 "A",`,`-0.01000,`0.60%,`0.00,`1.50,`',
  '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
  '`2,`6.00,`1.50,`0.00,`0.03000,`6.00,`1.50',
].join('\r\n') + '\r\n';

t.test('parseBill splits header, rows and summary and strips the backticks', async (t) => {
  const bill = parseBill(ALL_BILL);
  t.equal(bill.header.length, 27);
  t.equal(bill.header[0], '交易时间');
  t.equal(bill.header[26], '费率备注');
  t.equal(bill.rows.length, 2);
  t.equal(bill.rows[0]?.[0], '2024-03-01 08:35:41');
  t.match(bill.records[0], {
    交易时间: '2024-03-01 08:35:41',
    公众账号ID: 'wxd930ea5d5a258f4f',
    设备号: '',
    微信订单号: '4200000123202403011234567890',
    交易状态: 'SUCCESS',
    应结订单金额: '6.00',
    商品名称: '测试商品 "A"',
    手续费: '0.04000',
    费率备注: '',
  });
  t.match(bill.records[1], { 交易状态: 'REFUND', 商户退款单号: 'R1', 退款金额: '1.50', 手续费: '-0.01000', 申请退款金额: '1.50' });
  t.same(bill.summaryHeader, ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额']);
  t.same(bill.summary, { 总交易单数: '2', 应结订单总金额: '6.00', 退款总金额: '1.50', 充值券退款总金额: '0.00', 手续费总金额: '0.03000', 订单总金额: '6.00', 申请退款总金额: '1.50' });
  // LF line ends and a BOM too.
  t.same(parseBill(`\ufeff${ALL_BILL.replace(/\r\n/g, '\n')}`).records, bill.records);
});

t.test('a bill without lines (a day with only other kinds of trades) still parses', async (t) => {
  const empty = [
    '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注',
    '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
    '`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00',
  ].join('\r\n');
  const bill = parseBill(empty);
  t.equal(bill.header.length, 20);
  t.same(bill.rows, []);
  t.equal(bill.summary['总交易单数'], '0');
});

t.test('parseBill refuses what is not a bill, naming the line', async (t) => {
  const lines = ALL_BILL.trim().split('\r\n');
  const bad = (text: string, line?: number) => {
    try {
      parseBill(text);
      t.fail('expected BillParseError');
    } catch (err) {
      t.type(err, BillParseError);
      if (line !== undefined) t.equal((err as BillParseError).line, line);
    }
  };
  bad('');
  bad(lines.slice(0, 3).join('\n'));
  bad([lines[0], `${lines[1]},\`extra`, lines[3], lines[4]].join('\n'), 2);
  bad([lines[0], lines[1], lines[3], lines[4], lines[4]].join('\n'), 3);
  bad([lines[0], lines[1], lines[3], '`1,`2'].join('\n'), 4);
});

t.test('billYuanToFen: two decimals only, exact', async (t) => {
  t.equal(billYuanToFen('6.00'), 600);
  t.equal(billYuanToFen('0.01'), 1);
  t.equal(billYuanToFen('-1.50'), -150);
  t.equal(billYuanToFen('12345678.99'), 1234567899);
  for (const s of ['6', '6.0', '0.04000', '1,000.00', ' 1.00', '']) t.throws(() => billYuanToFen(s), BillParseError, s);
});

t.test('readBillAnswer: text, gzip, No Bill Exist and WeChat refusals', async (t) => {
  const res = (body: string | Buffer) => ({ status: 200, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') });
  t.same(readBillAnswer(res(ALL_BILL)), { kind: 'bill', text: ALL_BILL, compressed: false });
  t.same(readBillAnswer(res(gzipSync(Buffer.from(ALL_BILL)))), { kind: 'bill', text: ALL_BILL, compressed: true });
  const fail = (msg: string, code?: string) =>
    `<xml><return_code><![CDATA[FAIL]]></return_code>\n<return_msg><![CDATA[${msg}]]></return_msg>\n${code ? `<error_code><![CDATA[${code}]]></error_code>\n` : ''}</xml>`;
  t.same(readBillAnswer(res(fail('No Bill Exist', '20002'))), { kind: 'none' });
  const err = (body: string | Buffer) => {
    try {
      readBillAnswer(res(body));
    } catch (e) {
      return e as WxPayError;
    }
    throw new Error('expected a WxPayError');
  };
  t.match(err(fail('invalid bill_date', '20001')), { code: 'INVALID_BILL_DATE', retriable: false, wechatMessage: 'invalid bill_date' });
  t.match(err(fail('Bill Creating')), { code: 'BILL_CREATING', retry: 'later', retriable: true });
  t.match(err(fail('system error')), { code: 'SYSTEMERROR', retry: 'soon' });
  t.match(err(fail('sign error', '20001')), { code: 'RETURN_FAIL', retriable: false, message: /sign error \(error_code 20001\)/ });
  t.match(err('<xml><return_code>FAIL'), { code: 'BAD_RESPONSE' });
  t.match(err(''), { code: 'BAD_RESPONSE', retry: 'soon' });
  t.match(err(Buffer.from([0x1f, 0x8b, 0x00, 0x01])), { code: 'BAD_RESPONSE', message: /does not decompress/ });
});

t.test('request rules', async (t) => {
  t.same(validateDownloadBill({ bill_date: '20240301' }), { bill_date: '20240301', bill_type: 'ALL' });
  t.same(validateDownloadBill({ bill_date: '20240229', bill_type: 'REFUND', tar_type: 'GZIP' }), { bill_date: '20240229', bill_type: 'REFUND', tar_type: 'GZIP' });
  for (const req of [{ bill_date: '20230229' }, { bill_date: '2024-03-01' }, { bill_date: '20240301', bill_type: 'all' }, { bill_date: '20240301', tar_type: 'ZIP' }]) {
    t.throws(() => validateDownloadBill(req as never), { code: 'INVALID_ARGUMENT' }, JSON.stringify(req));
  }
});

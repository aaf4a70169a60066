// The console's words: zh-CN first (the default), English on request (kept in localStorage).
export const STRINGS = {
  zh: {
    brand: '商户后台', loading: '加载中…', logout: '退出登录', switchLang: 'English',
    nav_dashboard: '仪表盘', nav_orders: '订单', nav_queue: '待处理', nav_refunds: '退款', nav_recon: '对账', nav_operators: '操作员', nav_audit: '审计日志',
    login_title: '登录商户后台', name: '用户名', password: '密码', login: '登录', login_failed: '用户名或密码错误', locked: '账户已锁定',
    search: '搜索', q: '订单号 / 微信支付单号 / openid', status: '状态', channel: '渠道', from: '开始日期', to: '结束日期', minAmount: '最小金额（分）', maxAmount: '最大金额（分）',
    any: '全部', next_page: '下一页', no_results: '没有结果',
    out_trade_no: '商户订单号', transaction_id: '微信支付单号', amount: '金额', created_at: '创建时间', paid_at: '支付时间', buyer: '买家 openid', flags: '标记',
    order: '订单', items: '商品', sku: '商品编号', product: '名称', price: '单价', quantity: '数量',
    history: '状态变更', from_state: '原状态', to_state: '新状态', at: '时间', source: '来源',
    notifies: '支付通知记录', verification: '验签', reply: '回复', http: 'HTTP', latency: '延迟',
    queries: '订单查询记录 (orderquery)', trade_state: '交易状态', error: '错误', duration: '耗时',
    refunds: '退款', refund_requests: '买家退款申请', out_refund_no: '商户退款单号', reason: '原因', requested_by: '发起人', refund_status: '退款状态',
    issue_refund: '发起退款', refund_amount: '退款金额（元）', submit_refund: '确认退款', refund_in_full: '全额退款', resolve: '标记已处理',
    approve: '同意', reject: '拒绝', reject_note: '拒绝理由', request_status: '申请状态',
    queue_orders: '异常支付（需处理）', queue_change: '退款异常 (CHANGE)', queue_waiting: '余额不足等待 (NOTENOUGH)', queue_dead: '失败任务',
    retry: '重试', retry_now: '立即重试', resolved_offline: '已线下处理', job: '任务', attempts: '次数', failed_at: '失败时间', payload: '内容',
    recon_days: '对账日', day: '日期', recon_run: '重新对账', differences: '差异', kind: '类型', ours: '我方', wechat: '微信', resolution: '处理',
    counts: '笔数', totals: '金额合计', recon_none: '暂无对账记录', open: '未解决', matched: '已匹配', recon_unavailable: '对账功能尚未启用',
    dash_paid_amount: '支付金额（元）', dash_paid_count: '支付笔数', dash_success: '支付成功率', dash_notify: '支付通知', dash_notify_fail: '通知失败', dash_latency: '通知延迟 (ms)',
    dash_refunds: '退款', dash_channel: '按渠道', days: '天数', bucket: '粒度', by_day: '按天', by_hour: '按小时', attempts_label: '发起支付', truncated: '数据过多，仅统计最近部分',
    operators: '操作员', role: '角色', disabled: '已停用', locked_label: '已锁定', create_operator: '新建操作员', create: '创建', unlock: '解锁', disable: '停用', enable: '启用', save: '保存',
    actor: '操作人', action: '操作', target: '对象', ip: 'IP', before: '之前', after: '之后',
    done: '完成', failed: '失败', confirm_refund: '确认退款 {amount} 元？', bad_amount: '请输入正确的金额（元，最多两位小数）', need_reason: '请填写原因',
    forbidden: '你的角色无权执行此操作', csrf: '页面已过期，请刷新', yuan: '元',
  },
  en: {
    brand: 'Merchant console', loading: 'Loading…', logout: 'Log out', switchLang: '中文',
    nav_dashboard: 'Dashboard', nav_orders: 'Orders', nav_queue: 'Follow-ups', nav_refunds: 'Refunds', nav_recon: 'Reconciliation', nav_operators: 'Operators', nav_audit: 'Audit log',
    login_title: 'Sign in', name: 'Name', password: 'Password', login: 'Sign in', login_failed: 'Wrong name or password', locked: 'Account locked',
    search: 'Search', q: 'out_trade_no / transaction_id / openid', status: 'Status', channel: 'Channel', from: 'From', to: 'To', minAmount: 'Min amount (fen)', maxAmount: 'Max amount (fen)',
    any: 'Any', next_page: 'Next page', no_results: 'Nothing found',
    out_trade_no: 'out_trade_no', transaction_id: 'transaction_id', amount: 'Amount', created_at: 'Created', paid_at: 'Paid', buyer: 'Buyer openid', flags: 'Flags',
    order: 'Order', items: 'Items', sku: 'SKU', product: 'Name', price: 'Price', quantity: 'Qty',
    history: 'State changes', from_state: 'From', to_state: 'To', at: 'At', source: 'Source',
    notifies: 'Payment notifies received', verification: 'Verification', reply: 'Reply', http: 'HTTP', latency: 'Latency',
    queries: 'Order queries (orderquery)', trade_state: 'Trade state', error: 'Error', duration: 'Took',
    refunds: 'Refunds', refund_requests: 'Buyer refund requests', out_refund_no: 'out_refund_no', reason: 'Reason', requested_by: 'Requested by', refund_status: 'Refund status',
    issue_refund: 'Issue a refund', refund_amount: 'Amount (yuan)', submit_refund: 'Refund', refund_in_full: 'Refund in full', resolve: 'Mark resolved',
    approve: 'Approve', reject: 'Reject', reject_note: 'Why', request_status: 'Request',
    queue_orders: 'Held payments', queue_change: 'Refunds WeChat could not return (CHANGE)', queue_waiting: 'Refunds waiting for balance (NOTENOUGH)', queue_dead: 'Dead jobs',
    retry: 'Retry', retry_now: 'Retry now', resolved_offline: 'Handled offline', job: 'Job', attempts: 'Attempts', failed_at: 'Failed at', payload: 'Payload',
    recon_days: 'Reconciliation days', day: 'Day', recon_run: 'Run again', differences: 'Differences', kind: 'Kind', ours: 'Ours', wechat: 'WeChat', resolution: 'Resolution',
    counts: 'Counts', totals: 'Totals', recon_none: 'No reconciliation yet', open: 'open', matched: 'matched', recon_unavailable: 'Reconciliation is not available yet',
    dash_paid_amount: 'Paid (yuan)', dash_paid_count: 'Payments', dash_success: 'Success rate', dash_notify: 'Notifies', dash_notify_fail: 'Notify failures', dash_latency: 'Notify latency (ms)',
    dash_refunds: 'Refunds', dash_channel: 'By channel', days: 'Days', bucket: 'Bucket', by_day: 'Per day', by_hour: 'Per hour', attempts_label: 'Pay attempts', truncated: 'Too much data: the newest part only',
    operators: 'Operators', role: 'Role', disabled: 'Disabled', locked_label: 'Locked', create_operator: 'New operator', create: 'Create', unlock: 'Unlock', disable: 'Disable', enable: 'Enable', save: 'Save',
    actor: 'Who', action: 'Action', target: 'Target', ip: 'IP', before: 'Before', after: 'After',
    done: 'Done', failed: 'Failed', confirm_refund: 'Refund {amount} yuan?', bad_amount: 'Enter an amount in yuan (at most 2 decimals)', need_reason: 'A reason is required',
    forbidden: 'Your role may not do this', csrf: 'This page is stale: reload it', yuan: 'yuan',
  },
};

export function currentLang() {
  return localStorage.getItem('console.lang') === 'en' ? 'en' : 'zh';
}

export function t(key, vars = {}) {
  const s = STRINGS[currentLang()][key] ?? STRINGS.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

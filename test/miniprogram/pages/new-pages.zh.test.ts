// The new pages on a phone set to Chinese (wx.getAppBaseInfo().language zh_CN): see new-pages-walk.ts.
import { walkNewPages } from '../helpers/new-pages-walk.js';

await walkNewPages({
  language: 'zh_CN',
  locale: 'zh-CN',
  ordersTitle: '我的订单',
  detailTitle: '订单详情',
  refundTitle: '申请退款',
  paid: '已支付',
  refundButton: '申请退款',
  refundSuccess: '退款成功',
  waiting: '等待商家处理',
  notFound: '订单不存在或不属于您',
  offline: '无法连接服务器，请检查网络后重试',
});

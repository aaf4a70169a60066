// The new pages on a phone set to English (wx.getAppBaseInfo().language en): see new-pages-walk.ts.
import { walkNewPages } from '../helpers/new-pages-walk.js';

await walkNewPages({
  language: 'en',
  locale: 'en',
  ordersTitle: 'My orders',
  detailTitle: 'Order details',
  refundTitle: 'Request a refund',
  paid: 'Paid',
  refundButton: 'Request a refund',
  refundSuccess: 'Refunded',
  waiting: 'Waiting for the shop',
  notFound: 'No such order, or it is not yours',
  offline: 'Could not reach the server. Check the connection and retry.',
});

/**
 * The merchant the sandbox and `npm start` use when no credentials are given: the public
 * example of WeChat Pay's signing documentation (appid, mch_id and key as printed there),
 * plus a demo appsecret. None of these is a secret of anyone's: they exist to be shown.
 */
export const DEMO_MERCHANT = {
  appid: 'wxd930ea5d5a258f4f',
  mchId: '10000100',
  key: '192006250b4c09247ec02edce69f6a2d',
  secret: 'sandbox-demo-appsecret',
} as const;

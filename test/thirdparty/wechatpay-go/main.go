// The official WeChat Pay API v3 Go SDK (github.com/wechatpay-apiv3/wechatpay-go), unchanged, against
// the sandbox: JSAPI prepay (with its own RSA paySign), query, a payment at the sandbox cashier, query
// by id, refund + refund query, and close. The SDK's base URL is a constant
// (consts.WechatPayAPIServer), so an http.RoundTripper sends its requests to SANDBOX_URL instead; the
// signed path is unchanged. Prints one JSON object per step on stdout; exits 1 on the first failure.
//
// Env: SANDBOX_URL, MCH_ID, APPID, OPENID, MERCHANT_KEY_PATH, MERCHANT_CERT_PATH, PUB_KEY_ID, PUB_KEY_PATH, NOTIFY_URL.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

type toSandbox struct{ base *url.URL }

func (t toSandbox) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.Host = t.base.Host
	return http.DefaultTransport.RoundTrip(r)
}

func emit(step string, v interface{}) {
	out, _ := json.Marshal(map[string]interface{}{"step": step, "result": v})
	fmt.Println(string(out))
}

func fail(step string, err error) {
	out, _ := json.Marshal(map[string]interface{}{"step": step, "error": err.Error()})
	fmt.Println(string(out))
	os.Exit(1)
}

func must(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fail("env", fmt.Errorf("%s is not set", name))
	}
	return v
}

func main() {
	base, err := url.Parse(must("SANDBOX_URL"))
	if err != nil {
		fail("env", err)
	}
	mchID, appid, openid, notifyURL := must("MCH_ID"), must("APPID"), must("OPENID"), must("NOTIFY_URL")
	key, err := utils.LoadPrivateKeyWithPath(must("MERCHANT_KEY_PATH"))
	if err != nil {
		fail("load key", err)
	}
	cert, err := utils.LoadCertificateWithPath(must("MERCHANT_CERT_PATH"))
	if err != nil {
		fail("load cert", err)
	}
	pub, err := utils.LoadPublicKeyWithPath(must("PUB_KEY_PATH"))
	if err != nil {
		fail("load public key", err)
	}
	ctx := context.Background()
	client, err := core.NewClient(ctx,
		option.WithWechatPayPublicKeyAuthCipher(mchID, utils.GetCertificateSerialNumber(*cert), key, must("PUB_KEY_ID"), pub),
		option.WithHTTPClient(&http.Client{Transport: toSandbox{base}, Timeout: 10 * time.Second}),
	)
	if err != nil {
		fail("client", err)
	}
	pay := jsapi.JsapiApiService{Client: client}
	outTradeNo := fmt.Sprintf("GO%d", time.Now().UnixNano())

	prepay, _, err := pay.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
		Appid:       core.String(appid),
		Mchid:       core.String(mchID),
		Description: core.String("wechatpay-go 沙箱"),
		OutTradeNo:  core.String(outTradeNo),
		Attach:      core.String("sdk"),
		NotifyUrl:   core.String(notifyURL),
		TimeExpire:  core.Time(time.Now().Add(30 * time.Minute)),
		Amount:      &jsapi.Amount{Total: core.Int64(100), Currency: core.String("CNY")},
		Payer:       &jsapi.Payer{Openid: core.String(openid)},
	})
	if err != nil {
		fail("prepay", err)
	}
	emit("prepay", prepay)

	q, _, err := pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(outTradeNo), Mchid: core.String(mchID)})
	if err != nil {
		fail("query", err)
	}
	emit("query", q)

	// The WeChat client: the sandbox cashier with the SDK's own paySign.
	cashier, _ := json.Marshal(map[string]string{
		"appId": *prepay.Appid, "timeStamp": *prepay.TimeStamp, "nonceStr": *prepay.NonceStr,
		"package": *prepay.Package, "signType": *prepay.SignType, "paySign": *prepay.PaySign,
	})
	res, err := http.Post(base.String()+"/sandbox/cashier", "application/json", bytes.NewReader(cashier))
	if err != nil {
		fail("cashier", err)
	}
	var paid map[string]interface{}
	_ = json.NewDecoder(res.Body).Decode(&paid)
	res.Body.Close()
	emit("cashier", paid)

	paidQ, _, err := pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(outTradeNo), Mchid: core.String(mchID)})
	if err != nil {
		fail("query paid", err)
	}
	emit("queryPaid", paidQ)
	byID, _, err := pay.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: paidQ.TransactionId, Mchid: core.String(mchID)})
	if err != nil {
		fail("query by id", err)
	}
	emit("queryById", byID)

	refunds := refunddomestic.RefundsApiService{Client: client}
	outRefundNo := "R" + outTradeNo
	refund, _, err := refunds.Create(ctx, refunddomestic.CreateRequest{
		OutTradeNo:  core.String(outTradeNo),
		OutRefundNo: core.String(outRefundNo),
		Reason:      core.String("sdk refund"),
		Amount:      &refunddomestic.AmountReq{Refund: core.Int64(30), Total: core.Int64(100), Currency: core.String("CNY")},
	})
	if err != nil {
		fail("refund", err)
	}
	emit("refund", refund)
	rq, _, err := refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(outRefundNo)})
	if err != nil {
		fail("refund query", err)
	}
	emit("refundQuery", rq)

	closeNo := "C" + outTradeNo
	if _, _, err = pay.Prepay(ctx, jsapi.PrepayRequest{
		Appid: core.String(appid), Mchid: core.String(mchID), Description: core.String("to close"), OutTradeNo: core.String(closeNo),
		NotifyUrl: core.String(notifyURL), Amount: &jsapi.Amount{Total: core.Int64(1)}, Payer: &jsapi.Payer{Openid: core.String(openid)},
	}); err != nil {
		fail("prepay to close", err)
	}
	closeResult, err := pay.CloseOrder(ctx, jsapi.CloseOrderRequest{OutTradeNo: core.String(closeNo), Mchid: core.String(mchID)})
	if err != nil {
		fail("close", err)
	}
	emit("close", map[string]int{"status": closeResult.Response.StatusCode})
	closed, _, err := pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(closeNo), Mchid: core.String(mchID)})
	if err != nil {
		fail("query closed", err)
	}
	emit("queryClosed", closed)

	// An error answer comes back as the SDK's APIError, parsed from the sandbox's signed JSON.
	_, _, err = pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String("NoSuchTrade123"), Mchid: core.String(mchID)})
	if apiErr, ok := err.(*core.APIError); ok {
		emit("queryUnknown", map[string]interface{}{"status": apiErr.StatusCode, "code": apiErr.Code})
	} else {
		fail("query unknown", fmt.Errorf("expected an APIError, got %v", err))
	}
}

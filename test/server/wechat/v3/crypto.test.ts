// crypto.ts against published vectors, so that it is right by an outside measure and not only
// consistent with itself (the fake WeChat of the other tests uses the same functions).
import t from 'tap';
import { AeadError, aesGcmDecrypt, aesGcmEncrypt, rsaSign, rsaVerify } from '../../../../server/src/wechat/v3/crypto.js';

// Test Case 14 of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)" (the GCM spec NIST
// took up, csrc.nist.gov/.../gcm-spec.pdf): K = 0^256, IV = 0^96, P = 0^128. A 12-byte zero IV is
// twelve NUL characters, which is how aesGcmDecrypt takes WeChat's ASCII nonces.
const TC14 = {
  key: Buffer.alloc(32),
  nonce: '\u0000'.repeat(12),
  ciphertext: 'cea7403d4d606b6e074ec5d3baf39d18',
  tag: 'd0d1c8a799996bf0265b98b5d48ab919',
};

t.test('AES-256-GCM: the GCM spec\'s test case 14 decrypts, as ciphertext||tag in base64', async (t) => {
  const data = Buffer.from(TC14.ciphertext + TC14.tag, 'hex').toString('base64');
  t.equal(aesGcmDecrypt({ algorithm: 'AEAD_AES_256_GCM', ciphertext: data, nonce: TC14.nonce }, TC14.key), '\u0000'.repeat(16));
  const flipped = Buffer.from(TC14.ciphertext + TC14.tag, 'hex');
  flipped[31] = flipped[31]! ^ 0x01;
  t.throws(() => aesGcmDecrypt({ ciphertext: flipped.toString('base64'), nonce: TC14.nonce }, TC14.key), AeadError, 'a flipped tag bit is refused');
  t.throws(() => aesGcmDecrypt({ ciphertext: data, nonce: TC14.nonce, associated_data: 'transaction' }, TC14.key), AeadError, 'other associated data is refused');
  // It reads the resource as it came off the wire: a field of the wrong type is refused, not dropped.
  t.throws(() => aesGcmDecrypt({ ciphertext: data, nonce: TC14.nonce, associated_data: 1 }, TC14.key), { name: 'AeadError', message: 'associated_data is not a string' });
  t.throws(() => aesGcmDecrypt({ ciphertext: data, nonce: TC14.nonce, algorithm: ['AEAD_AES_256_GCM'] }, TC14.key), { name: 'AeadError', message: /unknown algorithm/ });
  t.throws(() => aesGcmDecrypt({ ciphertext: 7, nonce: TC14.nonce }, TC14.key), { name: 'AeadError', message: 'ciphertext is not base64' });
  t.equal(aesGcmEncrypt('\u0000'.repeat(16), TC14.key, '', TC14.nonce).ciphertext, data, 'and encrypting gives the published bytes');
});

// wechatpay-go's utils/sign_test.go (github.com/wechatpay-apiv3/wechatpay-go): its test key (PEM label
// TESTING KEY there, to keep scanners quiet) signs "source" to this SHA256-with-RSA signature.
// PKCS#1 v1.5 is deterministic, so ours must be byte-identical.
const WECHATPAY_GO_TEST_KEY = `
-----BEGIN TESTING KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd
fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7
6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1
FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR
0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW
3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm
LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km
OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4
C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN
0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF
+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y
gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam
AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi
hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2
6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ
WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT
D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/
aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2
ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V
YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV
BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC
EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h
Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq
+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/
jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe
BDa+8mDLkWu5nHEhOxy2JJZl
-----END TESTING KEY-----

`.replaceAll('TESTING KEY', 'PRIVATE KEY');
const WECHATPAY_GO_SIGNATURE =
  'BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoV' +
  'z+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLl' +
  'i/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj' +
  '1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==';

t.test("RSA-SHA256: wechatpay-go's published signature of \"source\"", async (t) => {
  t.equal(rsaSign('source', WECHATPAY_GO_TEST_KEY.trim()), WECHATPAY_GO_SIGNATURE);
  t.ok(rsaVerify('source', WECHATPAY_GO_SIGNATURE, WECHATPAY_GO_TEST_KEY.trim()), 'verifies with the public half');
  t.notOk(rsaVerify('Source', WECHATPAY_GO_SIGNATURE, WECHATPAY_GO_TEST_KEY.trim()), 'and only for its message');
});

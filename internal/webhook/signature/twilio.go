package signature

import (
	"net/url"

	twilioclient "github.com/twilio/twilio-go/client"
)

// TwilioHeader carries Twilio's request signature.
const TwilioHeader = "X-Twilio-Signature"

// maxTwilioSig bounds the header: a base64 SHA-1 is 28 bytes.
const maxTwilioSig = 128

// VerifyTwilio checks X-Twilio-Signature for a request Twilio sent to publicURL (the URL exactly
// as configured at Twilio, query string included). A form body is signed through its sorted
// parameters; a JSON body through the bodySHA256 query parameter. Twilio's RequestValidator
// does the HMAC-SHA1 (and tries the URL with and without the default port, as Twilio does).
func VerifyTwilio(authToken, publicURL string, body []byte, sig string) error {
	if sig == "" {
		return fail(ErrMissingHeader, TwilioHeader)
	}
	if len(sig) > maxTwilioSig {
		return fail(ErrMalformed, TwilioHeader+" too long")
	}
	if authToken == "" {
		return fail(ErrInvalidSecret, "no auth token configured")
	}
	if _, err := url.Parse(publicURL); err != nil {
		return fail(ErrMalformed, "public URL does not parse")
	}
	v := twilioclient.NewRequestValidator(authToken)
	if !v.ValidateBody(publicURL, body, sig) {
		return fail(ErrSignatureMismatch, TwilioHeader)
	}
	return nil
}

// SignTwilio computes the X-Twilio-Signature Twilio would send for params posted to publicURL
// (for tests, fakes and benchmarks). It is verified by VerifyTwilio.
func SignTwilio(authToken, publicURL string, params url.Values) string {
	return twilioSign(authToken, publicURL, params)
}

package channel_test

import "github.com/resend/resend-go/v2"

func resendErrRateLimit() error { return resend.ErrRateLimit }

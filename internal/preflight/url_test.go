package preflight_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func withUser(t *testing.T, raw, user, password string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.User = url.UserPassword(user, password)
	return u.String()
}

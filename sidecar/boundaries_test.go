package sidecar_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// walPath are the packages events pass through between the slot and the hand-off commit.
// The sinks of connector, webhook/outbound and deliver live in packages that also hold their
// workers; depguard (.golangci.yml, rule wal-path) holds their sink files to the same rule.
var walPath = []string{
	"github.com/wedsync/vendorhub/internal/event",
	"github.com/wedsync/vendorhub/internal/decode",
	"github.com/wedsync/vendorhub/internal/route",
	"github.com/wedsync/vendorhub/internal/handoff",
	"github.com/wedsync/vendorhub/internal/replication",
	"github.com/wedsync/vendorhub/internal/notify",
	"github.com/wedsync/vendorhub/internal/channel/kind",
	"github.com/wedsync/vendorhub/internal/realtime/broadcast",
	"github.com/wedsync/vendorhub/internal/realtime/store",
}

// providerSDKs are module paths of provider SDKs and OAuth clients.
var providerSDKs = []string{
	"firebase.google.com/",
	"github.com/twilio/",
	"github.com/resend/",
	"google.golang.org/api/",
	"golang.org/x/oauth2",
	"github.com/wedsync/vendorhub/internal/channel\n", // the senders (kind is allowed)
	"github.com/wedsync/vendorhub/internal/calendar",
	"github.com/wedsync/vendorhub/internal/oauth",
}

// No package on the WAL path depends, even indirectly, on a provider SDK: a provider call
// can never sit between the slot and the acknowledgement.
func TestWALPathImportsNoProviderSDK(t *testing.T) {
	t.Parallel()
	for _, pkg := range walPath {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
		deps := string(out)
		for _, sdk := range providerSDKs {
			for _, line := range strings.Split(deps, "\n") {
				require.False(t, strings.HasPrefix(line+"\n", sdk), "%s depends on %s", pkg, line)
			}
		}
	}
}

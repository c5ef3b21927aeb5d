package denotest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNpmSpecifier(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"@supabase/supabase-js@2.119.1": {"@supabase/supabase-js", "2.119.1"},
		"ws@8.23.0":                     {"ws", "8.23.0"},
		"ws@8.23.0/lib/stream.js":       {"ws", "8.23.0"},
	} {
		name, version, err := npmSpecifier(in)
		require.NoError(t, err, in)
		require.Equal(t, want, [2]string{name, version}, in)
	}
	for _, in := range []string{"@supabase/supabase-js", "ws"} {
		_, _, err := npmSpecifier(in)
		require.ErrorContains(t, err, "pins no version", in)
	}
}

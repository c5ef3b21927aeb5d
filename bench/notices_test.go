package main

import (
	"fmt"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/stretchr/testify/require"
)

func TestPairMessagesAreEachRecipientsFirstInTheirConversation(t *testing.T) {
	pairs := make([]nbPair, 5)
	for i := range pairs {
		pairs[i] = nbPair{conv: fmt.Sprintf("c%d", i), users: [2]string{fmt.Sprintf("u%d", 2*i), fmt.Sprintf("u%d", 2*i+1)}}
	}
	seen := map[string]bool{}
	for i := range 2 * len(pairs) {
		p, sender, recipient := nbPairMessage(pairs, i)
		require.NotEqual(t, sender, recipient)
		require.Contains(t, p.users, sender)
		require.Contains(t, p.users, recipient)
		k := recipient + "/" + p.conv
		require.False(t, seen[k], "message %d: %s already got a message in %s", i, recipient, p.conv)
		seen[k] = true
	}
	require.Len(t, seen, 10, "every user gets exactly one message: the first, then the reply")
}

func TestDigestLastLSNReadsThePlannersDigestKey(t *testing.T) {
	// The key as notify.DigestWorker writes it: digest/<thread>/<pglogrepl.LSN>/<index>.
	key := fmt.Sprintf("digest/%s/%s/%d", "conversation:7d0c5a6e-0a4f-4d8e-9a53-2f3f1c1d9b10", pglogrepl.LSN(0x1_6B37_4800), 3)
	got, err := digestLastLSN(key)
	require.NoError(t, err)
	require.Equal(t, uint64(0x1_6B37_4800), got)
	_, err = digestLastLSN("1A2B/0")
	require.Error(t, err, "a single notification's key is not a digest key")
}

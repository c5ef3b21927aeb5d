package realtime

import (
	"github.com/wedsync/vendorhub/internal/realtime/broadcast"
	"github.com/wedsync/vendorhub/internal/route"
)

// TopicPrefix starts every topic on the Realtime socket (broadcast.TopicPrefix).
const TopicPrefix = broadcast.TopicPrefix

// Message is one broadcast (broadcast.Message).
type Message = broadcast.Message

// Payload is what subscribers receive as the broadcast payload (broadcast.Payload).
type Payload = broadcast.Payload

// Messages turns routed events into one private Message per topic (broadcast.Messages).
func Messages(events []route.Routed) ([]Message, []error) { return broadcast.Messages(events) }

// FitPayload replaces m's payload by its refetch message when it is larger than maxBytes
// (broadcast.FitPayload).
func FitPayload(m *Message, maxBytes int) bool { return broadcast.FitPayload(m, maxBytes) }

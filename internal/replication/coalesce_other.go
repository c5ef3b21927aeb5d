//go:build !linux

package replication

import "errors"

// rcvLowatSupported is false: reads are not coalesced outside Linux.
const rcvLowatSupported = false

func setRcvLowat(uintptr, int) error { return errors.ErrUnsupported }

package replication

import "syscall"

// rcvLowatSupported reports that TCP honours SO_RCVLOWAT in poll: Linux wakes a waiting
// reader only once that many bytes are queued.
const rcvLowatSupported = true

func setRcvLowat(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
}

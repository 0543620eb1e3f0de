package stream

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// appendGSO appends a UDP_SEGMENT control message: the kernel cuts the
// message's payload into datagrams of size bytes (the last may be shorter).
func appendGSO(oob []byte, size int) []byte {
	at := len(oob)
	oob = append(oob, make([]byte, unix.CmsgSpace(2))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[at]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[at+unix.CmsgLen(0)])) = uint16(size)
	return oob
}

const gsoSupported = true

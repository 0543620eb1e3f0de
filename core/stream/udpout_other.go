//go:build !linux

package stream

// Without UDP_SEGMENT every run is one datagram: appendGSO is never called.
func appendGSO(oob []byte, _ int) []byte { return oob }

const gsoSupported = false

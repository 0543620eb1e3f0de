package stream

import (
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/camkit/camkit/sdk/errs"
)

// maxTrickleCandidates bounds the candidates of one trickle PATCH. A browser
// trickles a handful at a time; each one accepted is a remote address the
// SFU's ICE agent keeps and checks, so a client cannot hand it thousands.
const maxTrickleCandidates = 64

// trickleCandidate is one candidate of a trickle-ICE fragment and the media
// section (its a=mid) it belongs to; Mid is "" when the fragment names none.
type trickleCandidate struct {
	Candidate string // "candidate:..." as in the a= line
	Mid       string
}

// parseSDPFrag reads a trickle-ICE PATCH body (RFC 8840
// application/trickle-ice-sdpfrag): per media section ("m=" line) its mid
// and candidates. current is the session's ICE ufrag ("" when unknown): a
// fragment naming another one is an ICE restart, refused with
// errICERestart (errs.Unsupported, 422). Other attribute lines (end-of-candidates, ice-pwd,
// ice-options) are ignored; any other line is errs.Invalid.
func parseSDPFrag(frag []byte, current string) ([]trickleCandidate, error) {
	var out []trickleCandidate
	section, mid := 0, "" // where the current media section's candidates start, and its mid
	for _, line := range strings.Split(strings.ReplaceAll(string(frag), "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			if u := strings.TrimPrefix(line, "a=ice-ufrag:"); current != "" && u != current {
				return nil, errICERestart()
			}
		case strings.HasPrefix(line, "m="):
			section, mid = len(out), ""
		case strings.HasPrefix(line, "a=mid:"):
			// The mid names its whole section, candidates listed before it too.
			mid = strings.TrimPrefix(line, "a=mid:")
			for i := section; i < len(out); i++ {
				out[i].Mid = mid
			}
		case strings.HasPrefix(line, "a=candidate:"):
			if len(out) == maxTrickleCandidates {
				return nil, errs.E(errs.Invalid, "a trickle PATCH carries at most %d candidates", maxTrickleCandidates)
			}
			out = append(out, trickleCandidate{Candidate: strings.TrimPrefix(line, "a="), Mid: mid})
		case strings.HasPrefix(line, "a="):
		default:
			return nil, errs.E(errs.Invalid, "malformed sdpfrag line %q", line)
		}
	}
	return out, nil
}

// iceUfrag is the ICE ufrag of a session description, session-level or of
// its first media section that has one; "" when it has none.
func iceUfrag(desc string) string {
	var d sdp.SessionDescription
	if d.UnmarshalString(desc) != nil {
		return ""
	}
	if v, ok := d.Attribute("ice-ufrag"); ok {
		return v
	}
	for _, m := range d.MediaDescriptions {
		if v, ok := m.Attribute("ice-ufrag"); ok {
			return v
		}
	}
	return ""
}

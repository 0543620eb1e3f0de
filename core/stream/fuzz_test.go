package stream

import (
	"strings"
	"testing"

	"github.com/pion/ice/v4"

	"github.com/camkit/camkit/sdk/errs"
)

// A WHIP offer as OBS and the streamtest publisher send it (trimmed), and
// trickle fragments as browsers and RFC 8840's examples write them.
const fuzzOffer = "v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n" +
	"a=ice-options:trickle\r\na=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n" +
	"a=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n" +
	"a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"

var fuzzFrags = []string{
	"a=ice-ufrag:EsAw\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n",
	"a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
		"a=candidate:1 1 UDP 2130706431 198.51.100.1 39132 typ host\r\na=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998\r\n" +
		"m=video 9 RTP/AVP 96\r\na=mid:1\r\na=candidate:3 1 tcp 1518280447 192.0.2.4 9 typ host tcptype active generation 0 ufrag EsAw\r\n",
	"a=candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-cost 999\na=mid:0\n",
	"a=candidate:1 1 udp 2130706431 f3b0a1c2-0000-4000-8000-000000000000.local 9 typ host\r\n",
	"a=ice-ufrag:newufrag\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n",
	"a=end-of-candidates\r\n", "a=candidate:\r\n", "m=video 9\r\n", "", "\r\n\r\n", "c=IN IP4 0.0.0.0\r\n", "candidate:1 1 udp 1 127.0.0.1 9 typ host",
}

// FuzzSDPFrag: the trickle parser only ever returns candidates that are
// a=candidate lines of the fragment, each with a mid the fragment states (or
// none), every one of them, at most maxTrickleCandidates; it refuses a
// fragment naming another ICE ufrag than the session's; and what it returns
// goes through pion's candidate parser (which runs in the host's process:
// a panic there would stop the host) without a panic.
func FuzzSDPFrag(f *testing.F) {
	for _, fr := range fuzzFrags {
		f.Add([]byte(fr), "EsAw")
		f.Add([]byte(fr), "")
	}
	f.Add([]byte(strings.Repeat("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n", maxTrickleCandidates+1)), "")
	f.Fuzz(func(t *testing.T, frag []byte, current string) {
		cands, err := parseSDPFrag(frag, current)
		lines := map[string]bool{}
		candLines, ufragOther := 0, false
		for _, l := range strings.Split(strings.ReplaceAll(string(frag), "\r\n", "\n"), "\n") {
			l = strings.TrimSpace(l)
			lines[l] = true
			if strings.HasPrefix(l, "a=candidate:") {
				candLines++
			}
			if u, ok := strings.CutPrefix(l, "a=ice-ufrag:"); ok && current != "" && u != current {
				ufragOther = true
			}
		}
		if err != nil {
			if c := errs.CodeOf(err); c != errs.Invalid && c != errs.Unsupported {
				t.Fatalf("parseSDPFrag(%q): %v; want invalid or unsupported", frag, err)
			}
			return
		}
		if ufragOther {
			t.Fatalf("parseSDPFrag(%q, current %q) accepted another ufrag (an ICE restart)", frag, current)
		}
		if len(cands) != candLines || len(cands) > maxTrickleCandidates {
			t.Fatalf("parseSDPFrag(%q) = %d candidates; the fragment has %d (limit %d)", frag, len(cands), candLines, maxTrickleCandidates)
		}
		for _, c := range cands {
			if !lines["a="+c.Candidate] || (c.Mid != "" && !lines["a=mid:"+c.Mid]) {
				t.Fatalf("parseSDPFrag(%q) made up %+v", frag, c)
			}
			_, _ = ice.UnmarshalCandidate(strings.TrimPrefix(c.Candidate, "candidate:"))
		}
	})
}

// FuzzParseOffer: parseOffer accepts only a description pion reads that has
// an audio or a video section, refuses everything else as errs.Invalid, and
// whatever it accepts gives iceUfrag (run on every PATCH) no trouble.
func FuzzParseOffer(f *testing.F) {
	f.Add(fuzzOffer)
	f.Add(strings.ReplaceAll(fuzzOffer, "\r\n", "\n"))
	f.Add(strings.Replace(fuzzOffer, "m=audio", "m=application", 1))
	f.Add("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n")
	f.Add("v=0\r\n")
	f.Add("")
	f.Add("   \r\n")
	f.Fuzz(func(t *testing.T, offer string) {
		d, err := parseOffer(offer)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("parseOffer(%q): %v; want invalid", offer, err)
			}
			return
		}
		media := false
		for _, m := range d.MediaDescriptions {
			media = media || m.MediaName.Media == "audio" || m.MediaName.Media == "video"
		}
		if !media || (!strings.Contains(offer, "m=audio") && !strings.Contains(offer, "m=video")) {
			t.Fatalf("parseOffer(%q) accepted an offer without an audio or a video section", offer)
		}
		_ = iceUfrag(offer)
	})
}

// Each candidate goes with the mid of its own media section: before, every
// candidate of a fragment took the last a=mid in it.
func TestSDPFragCandidatesKeepTheirSectionsMid(t *testing.T) {
	got, err := parseSDPFrag([]byte(fuzzFrags[1]), "EsAw")
	if err != nil || len(got) != 3 || got[0].Mid != "0" || got[1].Mid != "0" || got[2].Mid != "1" {
		t.Fatalf("parseSDPFrag = %+v, %v; want two candidates of mid 0 and one of mid 1", got, err)
	}
	got, err = parseSDPFrag([]byte("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\na=mid:v\r\n"), "")
	if err != nil || len(got) != 1 || got[0].Mid != "v" {
		t.Fatalf("a mid after its section's candidate: %+v, %v", got, err)
	}
	many := strings.Repeat("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n", maxTrickleCandidates+1)
	if _, err := parseSDPFrag([]byte(many), ""); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("%d candidates in one PATCH: %v, want invalid", maxTrickleCandidates+1, err)
	}
	if _, err := parseSDPFrag([]byte(fuzzFrags[4]), "EsAw"); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("another ufrag: %v, want unsupported (ICE restart)", err)
	}
}

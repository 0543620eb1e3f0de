// Command streambench measures core/stream's fan-out on one machine: one
// synthetic publisher (~1.5 Mbit/s VP8 + Opus) in this process with the SFU,
// N pion WHEP subscribers in a child process (so the SFU's CPU can be read
// with getrusage apart from theirs), packet loss per step, and WHEP join to
// first keyframe.
//
//	go run ./cmd/streambench -steps 50,100,150,200,300 -window 10s
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/stream/whiphttp"
)

type result struct {
	N        int     `json:"n"`
	Joined   int     `json:"joined"`
	Expected uint64  `json:"expected"`
	Received uint64  `json:"received"`
	Bytes    uint64  `json:"bytes"`
	PubRate  float64 `json:"-"`
	Loss     float64 `json:"loss"`
	JoinP50  float64 `json:"join_p50_ms"`
	JoinP95  float64 `json:"join_p95_ms"`
	ChildCPU float64 `json:"child_cores"`
	// Stalled counts subscribers that received nothing in the window;
	// NotConnected those whose PeerConnection had left "connected".
	Stalled      int     `json:"stalled"`
	NotConnected int     `json:"not_connected"`
	WindowSec    float64 `json:"window_s"`
}

func main() {
	role := flag.String("role", "server", "server (default) or subs (the child process)")
	url := flag.String("url", "", "subs: WHEP URL")
	n := flag.Int("n", 0, "subs: subscribers")
	joins := flag.Int("joins", 20, "sequential joins timed before the fan-out steps (0: skip)")
	steps := flag.String("steps", "50,100,150,200,300", "subscriber counts to try")
	window := flag.Duration("window", 10*time.Second, "measurement window per step")
	bitrate := flag.Int("bitrate", 1_500_000, "publisher video bitrate (bit/s)")
	udpPort := flag.Int("udp-port", 0, "SFU single UDP port (ICE UDP mux); 0: ephemeral ports")
	cpuProfile := flag.String("cpuprofile", "", "write the SFU process's CPU profile here")
	flag.StringVar(&childProfile, "subs-cpuprofile", "", "write the subscriber process's CPU profile of the last step here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *role == "subs" {
		if err := runSubs(*url, *n, *joins, *window); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := runServer(*steps, *joins, *window, *bitrate, *udpPort); err != nil {
		log.Print(err)
	}
}

var childProfile string

func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func runServer(stepList string, joins int, window time.Duration, bitrate, udpPort int) error {
	adm := streamtest.NewAdmission()
	adm.AddShow("bench", "bench-key")
	sfu, err := stream.New(stream.Config{Admission: adm, UDPPort: udpPort})
	if err != nil {
		return err
	}
	defer sfu.Close()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	whiphttp.Mount(app, sfu, whiphttp.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = app.Listener(ln) }()
	base := "http://" + ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	pub, err := streamtest.Publish(ctx, streamtest.HTTPSignal(base+"/whip/bench-key", "", nil), streamtest.PublisherOptions{VideoBitrate: bitrate})
	cancel()
	if err != nil {
		return err
	}
	defer pub.Close()
	time.Sleep(time.Second)
	fmt.Printf("publisher: VP8 %d kbit/s at 30 fps (keyframe every 3 s and on PLI) + Opus 50 pps; GOMAXPROCS=%d\n", bitrate/1000, runtimeProcs())

	if joins > 0 {
		r, _, err := child(base+"/whep/bench", 0, joins, window, pub)
		if err != nil {
			return err
		}
		fmt.Printf("WHEP join -> first keyframe (%d sequential joins, 600 ms apart): p50 %.0f ms, p95 %.0f ms\n", r.Joined, r.JoinP50, r.JoinP95)
	}
	fmt.Printf("%6s %8s %10s %10s %8s %10s %12s %12s %12s %14s %12s %16s\n", "subs", "joined", "expected", "received", "loss%", "pub pkt/s", "kbit/s/sub", "sfu cores", "cores/sub", "sfu us/packet", "subs' cores", "join p50/p95 ms")
	best := 0
	nominal := float64(30*((bitrate/8/30+1099)/1100) + 50)
	for _, s := range strings.Split(stepList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		r, sfuCores, err := child(base+"/whep/bench", n, 0, window, pub)
		if err != nil {
			return err
		}
		kbps := float64(r.Bytes) * 8 / 1000 / r.WindowSec / float64(max(n, 1))
		// SFU CPU per packet delivered: the figure that does not depend on
		// how much CPU a busy machine leaves the harness.
		usPerPacket := sfuCores * r.WindowSec * 1e6 / float64(max(r.Received, 1))
		fmt.Printf("%6d %8d %10d %10d %8.3f %10.0f %12.0f %12.3f %12.5f %14.1f %12.3f %9.0f/%-6.0f\n", n, r.Joined, r.Expected, r.Received, 100*r.Loss, r.PubRate, kbps, sfuCores, sfuCores/float64(n), usPerPacket, r.ChildCPU, r.JoinP50, r.JoinP95)
		// A step only counts if the publisher kept its rate: on a machine
		// busy with other work a starved sender would flatter the loss.
		// Subscribers that fall behind (their process starved) see fewer
		// sequence numbers than were sent: no loss, but no valid figure.
		perSub := float64(r.Expected) / r.WindowSec / float64(max(n, 1))
		if r.Stalled > 0 || r.NotConnected > 0 {
			fmt.Printf("       (%d subscribers received nothing in the window, %d not connected)\n", r.Stalled, r.NotConnected)
		}
		switch {
		case r.PubRate < 0.95*nominal:
			fmt.Printf("       (publisher starved: %.0f of %.0f pkt/s: step invalid)\n", r.PubRate, nominal)
		case perSub < 0.95*r.PubRate:
			fmt.Printf("       (subscribers lag: %.0f of %.0f pkt/s each: step invalid)\n", perSub, r.PubRate)
		case r.Loss < 0.01 && r.Joined == n:
			best = n
		}
		time.Sleep(2 * time.Second) // let the last step's sessions close
	}
	fmt.Printf("largest N with < 1%% loss: %d\n", best)
	return nil
}

func runtimeProcs() int {
	out, _ := strconv.Atoi(os.Getenv("GOMAXPROCS"))
	if out == 0 {
		return int(numCPU())
	}
	return out
}

// child runs the subscribers in another process and reads the SFU's CPU
// over the child's measurement window.
func child(url string, n, joins int, window time.Duration, pub *streamtest.Publisher) (result, float64, error) {
	args := []string{"-role", "subs", "-url", url, "-n", strconv.Itoa(n), "-joins", strconv.Itoa(joins), "-window", window.String()}
	if childProfile != "" && joins == 0 {
		args = append(args, "-cpuprofile", childProfile)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, 0, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, 0, err
	}
	var r result
	var cpu0, cpu1 float64
	var t0, t1 time.Time
	var pkts0 int64
	var pubRate float64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "window-start":
			cpu0, t0 = cpuSeconds(syscall.RUSAGE_SELF), time.Now()
			pkts0 = pub.Packets.Load()
		case line == "window-end":
			cpu1, t1 = cpuSeconds(syscall.RUSAGE_SELF), time.Now()
			pubRate = float64(pub.Packets.Load()-pkts0) / t1.Sub(t0).Seconds()
		case strings.HasPrefix(line, "{"):
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return r, 0, err
			}
		default:
			fmt.Println("  child:", line)
		}
	}
	if err := cmd.Wait(); err != nil {
		return r, 0, err
	}
	r.PubRate = pubRate
	cores := 0.0
	if !t1.IsZero() {
		cores = (cpu1 - cpu0) / t1.Sub(t0).Seconds()
	}
	return r, cores, nil
}

func runSubs(url string, n, joins int, window time.Duration) error {
	if joins > 0 {
		var ms []float64
		for i := 0; i < joins; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			s, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(url, "", nil))
			cancel()
			if err != nil {
				return err
			}
			if streamtest.WaitFor(5*time.Second, func() bool { return s.Video.FirstKeyAt.Load() != 0 }) {
				ms = append(ms, float64(time.Unix(0, s.Video.FirstKeyAt.Load()).Sub(start))/1e6)
			}
			s.Close()
			time.Sleep(600 * time.Millisecond)
		}
		sort.Float64s(ms)
		r := result{Joined: len(ms)}
		if len(ms) > 0 {
			r.JoinP50, r.JoinP95 = ms[len(ms)/2], ms[(len(ms)*95)/100]
		}
		return json.NewEncoder(os.Stdout).Encode(r)
	}

	subs := make([]*streamtest.Subscriber, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var joinMs []float64
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			s, err := streamtest.SubscribeWith(ctx, streamtest.HTTPSignal(url, "", nil), streamtest.SubscriberOptions{Lean: true})
			if err != nil {
				fmt.Println("subscribe:", err)
				return
			}
			mu.Lock()
			subs = append(subs, s)
			mu.Unlock()
			if streamtest.WaitFor(10*time.Second, func() bool { return s.Video.FirstKeyAt.Load() != 0 }) {
				mu.Lock()
				joinMs = append(joinMs, float64(time.Unix(0, s.Video.FirstKeyAt.Load()).Sub(start))/1e6)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range subs {
			s.Close()
		}
	}()
	time.Sleep(3 * time.Second) // warm-up: NACK buffers, keyframes
	snap := func() (e, r, by uint64) {
		for _, s := range subs {
			a, b := s.Video.Loss()
			c, d := s.Audio.Loss()
			e, r = e+a+c, r+b+d
			by += uint64(s.Video.Bytes.Load() + s.Audio.Bytes.Load())
		}
		return
	}
	e0, r0, b0 := snap()
	before := make([]int64, len(subs))
	for i, s := range subs {
		before[i] = s.Video.Packets.Load() + s.Audio.Packets.Load()
	}
	c0 := cpuSeconds(syscall.RUSAGE_SELF)
	t0 := time.Now()
	fmt.Println("window-start")
	time.Sleep(window)
	fmt.Println("window-end")
	e1, r1, b1 := snap()
	stalled, notConnected := 0, 0
	for i, s := range subs {
		if s.Video.Packets.Load()+s.Audio.Packets.Load() == before[i] {
			stalled++
		}
		if s.PC.ConnectionState() != webrtc.PeerConnectionStateConnected {
			notConnected++
		}
	}
	c1 := cpuSeconds(syscall.RUSAGE_SELF)
	sort.Float64s(joinMs)
	res := result{N: n, Joined: len(joinMs), Expected: e1 - e0, Received: r1 - r0, Bytes: b1 - b0, WindowSec: time.Since(t0).Seconds(),
		ChildCPU: (c1 - c0) / time.Since(t0).Seconds(), Stalled: stalled, NotConnected: notConnected}
	if res.Expected > 0 && res.Received < res.Expected {
		res.Loss = float64(res.Expected-res.Received) / float64(res.Expected)
	}
	if len(joinMs) > 0 {
		res.JoinP50, res.JoinP95 = joinMs[len(joinMs)/2], joinMs[(len(joinMs)*95)/100]
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

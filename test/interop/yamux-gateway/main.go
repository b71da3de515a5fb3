// A minimal PipeOps control plane written against the real hashicorp/yamux and gorilla/websocket, used by
// test/interop/*.test.ts to check that the agent's yamux speaks the reference implementation's protocol.
// It accepts one agent socket on /api/v1/clusters/agent/ws, answers `register` with `register_success`,
// sends `gateway_hello {use_yamux:true}`, waits for `gateway_hello_ack`, starts a yamux server session over
// the socket's binary frames and runs one scenario. It prints "listening <port>" when ready and
// "result <json>" when the scenario passed; any failure prints "error: ..." and exits 1.
//
// Built in GOPATH mode from Debian's packages (no module download):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o gw ./test/interop/yamux-gateway
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
)

var (
	scenario   = flag.String("scenario", "ping", "ping | window | concurrent | upload | download | halfclose | rst | udp")
	echoPort   = flag.Int("echo-port", 0, "loopback TCP echo port (reached as echo.apps.svc.cluster.local)")
	udpPort    = flag.Int("udp-port", 0, "loopback UDP echo port (reached as dns.apps.svc.cluster.local)")
	sinkPort   = flag.Int("sink-port", 0, "loopback TCP port of the slow reader or the fast writer")
	window     = flag.Int("window", 256*1024, "max_stream_window_size for both sides")
	totalBytes = flag.Int("bytes", 100*1024*1024, "bytes moved by upload and download")
	streams    = flag.Int("streams", 100, "concurrent streams")
)

type envelope struct {
	Type      string                 `json:"type"`
	RequestID string                 `json:"request_id,omitempty"`
	Payload   map[string]interface{} `json:"payload"`
}

// wsConn turns the binary frames of a gorilla socket into one byte stream for yamux; text frames (the
// agent's heartbeats) are skipped. Message boundaries mean nothing to yamux.
type wsConn struct {
	ws      *websocket.Conn
	reader  io.Reader
	writeMu sync.Mutex
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.reader != nil {
			n, err := c.reader.Read(p)
			if err == io.EOF {
				c.reader = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		kind, reader, err := c.ws.NextReader()
		if err != nil {
			return 0, err
		}
		if kind == websocket.BinaryMessage {
			c.reader = reader
		}
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error { return c.ws.Close() }

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
	os.Exit(1)
}

// header builds the §15.4 tunnel stream header.
func header(protocol byte, port int, name, namespace, tunnelID string) []byte {
	var buf bytes.Buffer
	buf.WriteByte(1)
	buf.WriteByte(protocol)
	_ = binary.Write(&buf, binary.BigEndian, uint16(port))
	for _, s := range []string{name, namespace, tunnelID} {
		_ = binary.Write(&buf, binary.BigEndian, uint16(len(s)))
		buf.WriteString(s)
	}
	return buf.Bytes()
}

func openTunnel(session *yamux.Session, protocol byte, port int, name string) *yamux.Stream {
	stream, err := session.OpenStream()
	if err != nil {
		fail("open stream: %v", err)
	}
	if _, err := stream.Write(header(protocol, port, name, "apps", "t-"+name)); err != nil {
		fail("write header: %v", err)
	}
	return stream
}

// readAfterClose reads until the agent's FIN. hashicorp/yamux returns EOF from Read while the stream is
// half-closed locally and its buffer happens to be empty, so an early EOF is retried until `want` bytes
// arrived or the deadline passes.
func readAfterClose(stream *yamux.Stream, want int, deadline time.Time) ([]byte, error) {
	var got bytes.Buffer
	buf := make([]byte, 64*1024)
	for got.Len() < want {
		n, err := stream.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF && got.Len() < want {
			if time.Now().After(deadline) {
				return got.Bytes(), fmt.Errorf("EOF after %d of %d bytes", got.Len(), want)
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil && err != io.EOF {
			return got.Bytes(), err
		}
	}
	return got.Bytes(), nil
}

func pattern(size int, seed byte) []byte {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7) ^ seed
	}
	return data
}

// echoRoundTrip writes `data` on a TCP tunnel to the echo target, half-closes, and checks the echo.
func echoRoundTrip(session *yamux.Session, data []byte) error {
	stream := openTunnel(session, 1, *echoPort, "echo")
	defer stream.Close()
	errs := make(chan error, 1)
	go func() {
		_, err := stream.Write(data)
		if err == nil {
			err = stream.Close()
		}
		errs <- err
	}()
	got, err := readAfterClose(stream, len(data), time.Now().Add(60*time.Second))
	if err != nil {
		return err
	}
	if err := <-errs; err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("echo differs: %d bytes back, %d sent", len(got), len(data))
	}
	return nil
}

func run(session *yamux.Session) map[string]interface{} {
	result := map[string]interface{}{"scenario": *scenario}
	switch *scenario {
	case "ping":
		rtt, err := session.Ping()
		if err != nil {
			fail("ping: %v", err)
		}
		result["rtt_ns"] = rtt.Nanoseconds()
	case "window":
		// The agent's window for us starts at 256 KiB; with a larger max window one Read can find more than
		// 256 KiB buffered, which only a grown window allows. The reader pauses between reads so it can fill.
		stream := openTunnel(session, 1, *echoPort, "echo")
		data := pattern(8*1024*1024, 3)
		go func() {
			_, _ = stream.Write(data)
			_ = stream.Close()
		}()
		var got bytes.Buffer
		largest := 0
		buf := make([]byte, 16*1024*1024)
		deadline := time.Now().Add(60 * time.Second)
		for got.Len() < len(data) {
			time.Sleep(100 * time.Millisecond)
			n, err := stream.Read(buf)
			if n > largest {
				largest = n
			}
			got.Write(buf[:n])
			if err == io.EOF && got.Len() < len(data) && time.Now().Before(deadline) {
				continue
			}
			if err != nil && err != io.EOF {
				fail("window read: %v", err)
			}
			if err == io.EOF && got.Len() < len(data) {
				fail("window: EOF after %d bytes", got.Len())
			}
		}
		if !bytes.Equal(got.Bytes(), data) {
			fail("window: echo differs")
		}
		result["largest_read"] = largest
		result["bytes"] = got.Len()
	case "concurrent":
		var wg sync.WaitGroup
		errs := make(chan error, *streams)
		for i := 0; i < *streams; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := echoRoundTrip(session, pattern(64*1024+i, byte(i))); err != nil {
					errs <- fmt.Errorf("stream %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			fail("concurrent: %v", err)
		}
		result["streams"] = *streams
	case "upload":
		// 100 MB towards a target that reads slowly; the target answers with the count it received.
		stream := openTunnel(session, 1, *sinkPort, "sink")
		chunk := pattern(64*1024, 5)
		for sent := 0; sent < *totalBytes; sent += len(chunk) {
			if _, err := stream.Write(chunk); err != nil {
				fail("upload write after %d bytes: %v", sent, err)
			}
		}
		if err := stream.Close(); err != nil {
			fail("upload close: %v", err)
		}
		reply, err := readAfterClose(stream, 1, time.Now().Add(120*time.Second))
		if err != nil {
			fail("upload reply: %v", err)
		}
		for !bytes.HasSuffix(reply, []byte("\n")) {
			more, err := readAfterClose(stream, 1, time.Now().Add(10*time.Second))
			if err != nil {
				fail("upload reply: %v", err)
			}
			reply = append(reply, more...)
		}
		result["reply"] = string(bytes.TrimSpace(reply))
	case "download":
		// 100 MB from a target that writes as fast as it can, read here slowly.
		stream := openTunnel(session, 1, *sinkPort, "source")
		received := 0
		buf := make([]byte, 32*1024)
		for {
			n, err := stream.Read(buf)
			received += n
			if err == io.EOF {
				break
			}
			if err != nil {
				fail("download read after %d bytes: %v", received, err)
			}
			time.Sleep(time.Millisecond) // a slow reader: about 32 KiB per millisecond at most
		}
		_ = stream.Close()
		result["bytes"] = received
	case "halfclose":
		stream := openTunnel(session, 1, *echoPort, "echo")
		if _, err := stream.Write([]byte("half-closed hello")); err != nil {
			fail("halfclose write: %v", err)
		}
		if err := stream.Close(); err != nil { // FIN: our write side is done, the read side stays open
			fail("halfclose close: %v", err)
		}
		got, err := readAfterClose(stream, len("half-closed hello"), time.Now().Add(30*time.Second))
		if err != nil {
			fail("halfclose read: %v", err)
		}
		result["echo"] = string(got)
	case "rst":
		bad, err := session.OpenStream()
		if err != nil {
			fail("open: %v", err)
		}
		if _, err := bad.Write([]byte{9, 1, 0, 80, 0, 0, 0, 0, 0, 0}); err != nil {
			fail("write bad header: %v", err)
		}
		_, readErr := bad.Read(make([]byte, 16))
		result["bad_stream"] = fmt.Sprint(readErr)
		result["bad_is_reset"] = errors.Is(readErr, yamux.ErrConnectionReset)
		if err := echoRoundTrip(session, []byte("other streams go on")); err != nil {
			fail("rst: good stream: %v", err)
		}
		result["good_stream"] = "ok"
	case "udp":
		stream := openTunnel(session, 2, *udpPort, "dns")
		var got bytes.Buffer
		sent := []string{"query-1", "query-22", "query-333"}
		buf := make([]byte, 1024)
		for _, datagram := range sent {
			if _, err := stream.Write([]byte(datagram)); err != nil {
				fail("udp write: %v", err)
			}
			_ = stream.SetReadDeadline(time.Now().Add(15 * time.Second))
			for got.Len() < len(datagram) {
				n, err := stream.Read(buf)
				got.Write(buf[:n])
				if err != nil {
					fail("udp read: %v", err)
				}
			}
			if got.String() != datagram {
				fail("udp: sent %q, got %q", datagram, got.String())
			}
			got.Reset()
		}
		result["datagrams"] = len(sent)
	default:
		fail("unknown scenario %q", *scenario)
	}
	return result
}

func main() {
	flag.Parse()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	done := make(chan map[string]interface{}, 1)
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	var once sync.Once
	http.HandleFunc("/api/v1/clusters/agent/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		once.Do(func() { go serve(ws, done) })
	})
	go func() { _ = http.Serve(listener, nil) }()
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	result := <-done
	encoded, _ := json.Marshal(result)
	fmt.Printf("result %s\n", encoded)
}

func serve(ws *websocket.Conn, done chan<- map[string]interface{}) {
	for {
		var message envelope
		if err := ws.ReadJSON(&message); err != nil {
			fail("read before yamux: %v", err)
		}
		switch message.Type {
		case "register":
			reply := envelope{Type: "register_success", RequestID: message.RequestID, Payload: map[string]interface{}{"cluster_id": "c-interop", "cluster_uuid": "uuid-interop"}}
			if err := ws.WriteJSON(reply); err != nil {
				fail("register_success: %v", err)
			}
		case "heartbeat":
			hello := envelope{Type: "gateway_hello", Payload: map[string]interface{}{
				"use_yamux":    true,
				"yamux_config": map[string]interface{}{"max_stream_window_size": *window, "keep_alive_interval_seconds": 30, "connection_timeout_seconds": 30},
			}}
			if err := ws.WriteJSON(hello); err != nil {
				fail("gateway_hello: %v", err)
			}
		case "gateway_hello_ack":
			if message.Payload["use_yamux"] != true {
				fail("ack without use_yamux: %v", message.Payload)
			}
			config := yamux.DefaultConfig()
			config.MaxStreamWindowSize = uint32(*window)
			config.LogOutput = ioutil.Discard
			config.ConnectionWriteTimeout = 30 * time.Second
			session, err := yamux.Server(&wsConn{ws: ws}, config)
			if err != nil {
				fail("yamux server: %v", err)
			}
			done <- run(session)
			return
		}
	}
}

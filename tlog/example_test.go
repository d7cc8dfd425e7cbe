package tlog_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/healthcode/healthcode/tlog"
	"golang.org/x/mod/sumdb/note"
)

func ExampleEntry_MarshalText() {
	e := &tlog.Entry{
		Index:   0,
		Time:    time.Date(2022, 6, 13, 8, 30, 0, 0, time.UTC),
		Kind:    tlog.KindJobStarted,
		Actor:   tlog.Actor{Kind: tlog.ActorSystem, ID: "evaluator"},
		Payload: []byte(`{"job":"reevaluate","ruleset":7}`),
	}
	data, err := e.MarshalText()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output:
	// healthcode/log/v1
	// index 0
	// time 2022-06-13T08:30:00.000Z
	// kind job.started
	// actor.kind system
	// actor.id evaluator
	// actor.post
	// subject
	// prev
	// personal
	// payload {"job":"reevaluate","ruleset":7}
}

func ExampleMonitor() {
	// The log's verifier key is published by its operator.
	verifier, err := note.NewVerifier("healthcode.local/log+0c59cbe7+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop")
	if err != nil {
		log.Fatal(err)
	}
	c := &tlog.Client{BaseURL: "http://localhost:8080/log", Verifier: verifier}
	res, err := tlog.Monitor(context.Background(), c, "monitor-state")
	var ie *tlog.InconsistencyError
	if errors.As(err, &ie) {
		// Publish both signed checkpoints: they prove the log misbehaved.
		if err := errors.Join(os.WriteFile("evidence-old", ie.Old, 0o644), os.WriteFile("evidence-new", ie.New, 0o644)); err != nil {
			log.Printf("keep the evidence: %v", err)
		}
		log.Fatal(err)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("log %s has %d entries, consistent with size %d seen before\n", res.New.Origin, res.New.Size, res.Old.Size)

	// Prove that the latest entry is in the log.
	if res.New.Size > 0 {
		e, err := c.ProveInclusion(context.Background(), res.New.Size-1, res.New)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Kind, e.Actor.ID)
	}
}

func ExampleGenerateKey() {
	skey, vkey, err := tlog.GenerateKey(rand.Reader, "healthcode.example.org/log")
	if err != nil {
		log.Fatal(err)
	}
	_ = skey // secret: give it to the server only
	fmt.Println(vkey[:len("healthcode.example.org/log")])
	// Output: healthcode.example.org/log
}

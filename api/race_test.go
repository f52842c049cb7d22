//go:build race

package api

// raceDetector says the tests run under the race detector.
const raceDetector = true

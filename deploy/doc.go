// Package deploy holds the files to run several assistant replicas behind
// a load balancer (nginx.conf) and the tests that run them for real: two
// `assistant serve` processes sharing one redis-server behind Debian's
// nginx, with no sticky routing (replicas_test.go). The tests build
// cmd/assistant, so they take a while; they skip without nginx unless CI is
// set (make test installs nginx with apt-get).
package deploy

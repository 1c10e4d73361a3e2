package proxy

import (
	"net/http"
	"net/url"
	"testing"
)

func TestRequestTarget(t *testing.T) {
	connect := func(authority string) *http.Request {
		return &http.Request{Method: http.MethodConnect, Host: authority, URL: &url.URL{Host: authority}}
	}
	absolute := func(target string) *http.Request {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		return &http.Request{Method: http.MethodGet, Host: u.Host, URL: u, RequestURI: target}
	}
	origin := func(host string) *http.Request {
		return &http.Request{Method: http.MethodGet, Host: host, URL: &url.URL{Path: "/get"}, RequestURI: "/get"}
	}
	tests := []struct {
		name string
		r    *http.Request
		host string
		port int
		ok   bool
	}{
		{"CONNECT", connect("api.example.com:443"), "api.example.com", 443, true},
		{"CONNECT, case and trailing dot", connect("API.Example.COM.:8443"), "api.example.com", 8443, true},
		{"CONNECT IPv6", connect("[::1]:443"), "::1", 443, true},
		{"CONNECT IPv4", connect("10.0.0.1:80"), "10.0.0.1", 80, true},
		{"CONNECT without a port", connect("api.example.com"), "", 0, false},
		{"CONNECT port 0", connect("api.example.com:0"), "", 0, false},
		{"CONNECT port too large", connect("api.example.com:65536"), "", 0, false},
		{"CONNECT named port", connect("api.example.com:https"), "", 0, false},
		{"CONNECT without a host", connect(":443"), "", 0, false},
		{"CONNECT with a wildcard host", connect("*:443"), "", 0, false},

		{"absolute http", absolute("http://httpbin.org/get?x=1"), "httpbin.org", 0, true},
		{"absolute http, port 80 is no choice", absolute("http://httpbin.org:80/get"), "httpbin.org", 0, true},
		{"absolute https, port 443 is no choice", absolute("https://httpbin.org:443/get"), "httpbin.org", 0, true},
		{"absolute http to port 443", absolute("http://httpbin.org:443/get"), "httpbin.org", 443, true},
		{"absolute https to port 80", absolute("https://httpbin.org:80/get"), "httpbin.org", 80, true},
		{"absolute, other port", absolute("http://httpbin.org:8080/get"), "httpbin.org", 8080, true},
		{"absolute, case and trailing dot", absolute("http://HTTPBIN.Org./get"), "httpbin.org", 0, true},
		{"absolute IPv6 literal", absolute("http://[::1]:8080/"), "::1", 8080, true},
		{"absolute IPv4 literal", absolute("http://10.0.0.1/"), "10.0.0.1", 0, true},
		{"absolute with user information", absolute("http://user:pass@httpbin.org/"), "httpbin.org", 0, true},
		{"absolute port 0", absolute("http://httpbin.org:0/"), "", 0, false},
		{"absolute port too large", absolute("http://httpbin.org:70000/"), "", 0, false},
		{"absolute ftp", absolute("ftp://httpbin.org/"), "", 0, false},
		{"absolute without a host", absolute("http:///get"), "", 0, false},

		{"Host header", origin("httpbin.org"), "httpbin.org", 0, true},
		{"Host header with the gateway's port", origin("httpbin.org:8080"), "httpbin.org", 0, true},
		{"Host header, case and trailing dot", origin("WWW.HttpBin.org."), "www.httpbin.org", 0, true},
		{"Host header IPv6", origin("[::1]:8080"), "::1", 0, true},
		{"Host header underscore", origin("my_service.example"), "my_service.example", 0, true},
		{"empty Host header", origin(""), "", 0, false},
		{"Host header *", origin("*"), "", 0, false},
		{"Host header with a comma", origin("httpbin.org,evil.example"), "", 0, false},
		{"Host header with percent", origin("%31%32%37.0.0.1"), "", 0, false},
		{"Host header with empty labels", origin("httpbin..org"), "", 0, false},
		{"Host header with a leading dot", origin(".httpbin.org"), "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port, ok := requestTarget(tt.r, tt.r.Method == http.MethodConnect)
			if ok != tt.ok || ok && (host != tt.host || port != tt.port) {
				t.Errorf("requestTarget = %q, %d, %v; want %q, %d, %v", host, port, ok, tt.host, tt.port, tt.ok)
			}
		})
	}
}

func TestDestPort(t *testing.T) {
	tests := []struct {
		name      string
		e         egressRoute
		requested int
		want      int
	}{
		{"TLS, none named", egressRoute{tls: true}, 0, 443},
		{"TLS, named", egressRoute{tls: true}, 8443, 8443},
		{"plain, none named", egressRoute{}, 0, 80},
		{"plain, named", egressRoute{}, 8080, 8080},
		{"fixed port wins", egressRoute{port: 9443, tls: true}, 8443, 9443},
		{"fixed port, none named", egressRoute{port: 9080}, 0, 9080},
	}
	for _, tt := range tests {
		if got := tt.e.destPort(tt.requested); got != tt.want {
			t.Errorf("%s: destPort(%d) = %d, want %d", tt.name, tt.requested, got, tt.want)
		}
	}
}

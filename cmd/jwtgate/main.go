// Command jwtgate is a JWT-verifying HTTP gateway: it authenticates
// requests with JSON Web Tokens, authorizes them with policies, and
// forwards them to upstreams. Run "jwtgate help" for the subcommands.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

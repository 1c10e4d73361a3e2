package authz

import (
	"fmt"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"

	"jwtgate.dev/jwtgate/internal/model"
)

// condition is a compiled model.Condition.
type condition struct {
	kind      model.ConditionKind
	header    string // canonical header name, for CondHeader
	claim     claimPath
	values    patterns
	notValues patterns
	// blocks and notBlocks are the values of CondSourceIP and
	// CondRemoteIP; ports and notPorts those of CondDestinationPort.
	blocks, notBlocks []netip.Prefix
	ports, notPorts   []int
	hasValues, hasNot bool
	// cel is the compiled CondCEL condition.
	cel *celCondition
}

// match: the looked-at value (any of them, when there are several) matches
// one of values, when set, and no looked-at value matches notValues. An
// absent value fails values and passes notValues.
func (c *condition) match(r *Request) bool {
	if c.cel != nil {
		return c.cel.match(r)
	}
	if c.hasValues && !c.any(r, c.values, c.blocks, c.ports) {
		return false
	}
	if c.hasNot && c.any(r, c.notValues, c.notBlocks, c.notPorts) {
		return false
	}
	return true
}

// any reports whether any looked-at value matches ps (or, for addresses
// and ports, blocks and ports).
func (c *condition) any(r *Request, ps patterns, blocks []netip.Prefix, ports []int) bool {
	switch c.kind {
	case model.CondHeader:
		for _, v := range r.Header[c.header] {
			if ps.match(v) {
				return true
			}
		}
		return false
	case model.CondSourceIP:
		return containsAddr(blocks, r.Remote.Unmap().WithZone(""))
	case model.CondRemoteIP:
		return containsAddr(blocks, r.client().Unmap().WithZone(""))
	case model.CondDestinationPort:
		return slices.Contains(ports, r.Port)
	case model.CondSourcePrincipal:
		return ps.match(r.Peer.Principal)
	case model.CondSourceNamespace:
		return ps.match(r.Peer.Namespace)
	case model.CondSourceServiceAccount:
		return ps.match(r.Peer.ServiceAccount)
	}
	if !r.Authenticated {
		return false
	}
	switch c.kind {
	case model.CondClaim:
		v, ok := c.claim.lookup(r.Claims)
		return ok && claimValueMatch(v, ps, c.claim.split(r.Issuer))
	case model.CondAudience:
		for _, a := range r.Audiences {
			if ps.match(a) {
				return true
			}
		}
		return false
	case model.CondPresenter:
		return ps.match(r.Presenter)
	case model.CondIssuer:
		return ps.match(r.Issuer)
	case model.CondPrincipal:
		return ps.match(r.Principal)
	}
	return false
}

func (c *compiler) condition(path string, mc *model.Condition) condition {
	cd := condition{kind: mc.Kind, hasValues: len(mc.Values) > 0, hasNot: len(mc.NotValues) > 0}
	switch mc.Kind {
	case model.CondClaim:
		cp, err := c.claimPath(mc.Name)
		if err != nil {
			c.fail(path+".name", err)
		}
		cd.claim = cp
	case model.CondHeader:
		cd.header = textproto.CanonicalMIMEHeaderKey(mc.Name)
		switch cd.header {
		case "Host":
			// net/http moves Host out of the header map: a condition on
			// it would never match, a silent hole in a DENY rule.
			c.errorf(path+".name", "the Host header is not a condition header: use to[].hosts (compared without the port, ignoring case)")
		case "Transfer-Encoding", "Trailer":
			c.errorf(path+".name", "header %q cannot be matched: it is consumed while reading the request", cd.header)
		}
	case model.CondCEL:
		// Name is where the claims are: any key.
	default:
		if mc.Name != "" && mc.Kind.Known() {
			c.errorf(path+".name", "%s condition takes no name", mc.Kind)
		}
	}
	// Unknown kinds and missing values are refused by model.CheckPolicy.
	switch mc.Kind {
	case model.CondCEL:
		cd.cel = c.celCondition(path, mc)
	case model.CondSourceIP, model.CondRemoteIP:
		cd.blocks = c.ipBlocks(path, "values", mc.Values)
		cd.notBlocks = c.ipBlocks(path, "notValues", mc.NotValues)
	case model.CondDestinationPort:
		cd.ports = c.portValues(path, "values", mc.Values)
		cd.notPorts = c.portValues(path, "notValues", mc.NotValues)
	default:
		cd.values = c.patterns(path, "values", mc.Values, compilePattern)
		cd.notValues = c.patterns(path, "notValues", mc.NotValues, compilePattern)
	}
	return cd
}

// portValues compiles a condition's port numbers (checked by
// model.CheckPolicy).
func (c *compiler) portValues(path, field string, vs []string) []int {
	out := make([]int, 0, len(vs))
	for i, v := range vs {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.errorf(fmt.Sprintf("%s.%s[%d]", path, field, i), "invalid port %q", v)
			continue
		}
		out = append(out, n)
	}
	return out
}

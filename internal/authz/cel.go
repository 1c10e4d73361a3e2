package authz

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"

	"jwtgate.dev/jwtgate/internal/model"
)

// CELCostLimit bounds the work of one evaluation of a CEL condition, in
// cel-go's cost units (about one per operation, more for functions on
// long strings and lists). An evaluation that exceeds it fails closed:
// it counts as the result that lets no request through that the policy
// would not let through (see celCondition).
const CELCostLimit = 100000

// celCondition is a compiled model.CondCEL condition: each expression
// compiled once into a program, evaluated per request with an
// activation that computes the attributes an expression reads when it
// reads them (cel_attrs.go).
type celCondition struct {
	values, notValues []cel.Program
	// key is where the verified token's claims are, under
	// metadata.filter_metadata['envoy.filters.http.jwt_authn'].
	key string
	// splitAll and splitBy are the top-level claims shown as lists of
	// their space-separated words: for every token, and for the tokens
	// of an issuer (the policy's SpaceDelimitedClaims, as Envoy's
	// normalize_payload_in_metadata).
	splitAll []string
	splitBy  map[string][]string
	// overValues and overNot are what an evaluation over the cost limit
	// counts as in values and notValues: whatever makes the rule less
	// likely to let a request through. In an ALLOW rule an expression
	// of values counts as false, one of notValues as true; in a DENY
	// rule the other way round.
	overValues, overNot bool
}

// match: one of values is true (when set) and none of notValues is.
func (c *celCondition) match(r *Request) bool {
	if len(c.values) > 0 && !c.anyTrue(r, c.values, c.overValues) {
		return false
	}
	return len(c.notValues) == 0 || !c.anyTrue(r, c.notValues, c.overNot)
}

// anyTrue reports whether one of progs is true for r; an evaluation over
// the cost limit counts as over.
func (c *celCondition) anyTrue(r *Request, progs []cel.Program, over bool) bool {
	for _, p := range progs {
		ok, limited := c.eval(p, r)
		if limited {
			ok = over
		}
		if ok {
			return true
		}
	}
	return false
}

// eval evaluates one program: true only for the result true. An error
// (a missing attribute, key or claim, a wrong type) or a result that is
// not a bool is false, as in Envoy's RBAC filter; limited says the cost
// limit stopped it.
func (c *celCondition) eval(p cel.Program, r *Request) (ok, limited bool) {
	out, _, err := p.Eval(newCELVars(r, c))
	if err != nil {
		var ce interpreter.EvalCancelledError
		return false, errors.As(err, &ce) && ce.Cause == interpreter.CostLimitExceeded
	}
	b, isBool := out.(types.Bool)
	return isBool && bool(b), false
}

// explain says, for an explanation of a decision, what each expression
// gave for r: "values[0] true; values[1] error: no such key: team;
// notValues[0] false". It evaluates them again (explanations are rare).
func (c *celCondition) explain(r *Request) string {
	var parts []string
	for _, l := range []struct {
		name  string
		progs []cel.Program
	}{{"values", c.values}, {"notValues", c.notValues}} {
		for i, p := range l.progs {
			what := "false"
			out, _, err := p.Eval(newCELVars(r, c))
			switch b, isBool := out.(types.Bool); {
			case err != nil:
				what = "error: " + err.Error()
			case !isBool:
				what = "not a bool (" + string(out.Type().TypeName()) + ")"
			case bool(b):
				what = "true"
			}
			parts = append(parts, fmt.Sprintf("%s[%d] %s", l.name, i, what))
		}
	}
	return strings.Join(parts, "; ")
}

// split reports whether the top-level claim name of a token of issuer
// iss is shown as a list of words.
func (c *celCondition) split(iss, name string) bool {
	return slices.Contains(c.splitAll, name) || slices.Contains(c.splitBy[iss], name)
}

// celCondition compiles a CEL condition of the policy. Its expressions
// were checked by model.CheckPolicy; an error here is reported once,
// against the field it is at.
func (c *compiler) celCondition(path string, mc *model.Condition) *celCondition {
	cc := &celCondition{key: mc.Name, overValues: c.pol.Action == model.ActionDeny}
	cc.overNot = !cc.overValues
	if cc.key == "" {
		cc.key = model.CELPayloadKey
	}
	for iss, names := range c.pol.SpaceDelimitedClaims {
		if iss == "*" {
			cc.splitAll = append(cc.splitAll, names...)
			continue
		}
		if cc.splitBy == nil {
			cc.splitBy = map[string][]string{}
		}
		cc.splitBy[iss] = append(cc.splitBy[iss], names...)
	}
	cc.values = c.celPrograms(path, "values", mc.Values)
	cc.notValues = c.celPrograms(path, "notValues", mc.NotValues)
	return cc
}

// celProgram is the program of a compiled expression, remembered for
// the configuration's compile step: a program is immutable and safe for
// concurrent use.
func (c *compiler) celProgram(src string, a *cel.Ast) (cel.Program, error) {
	if p, ok := c.in.programs[src]; ok {
		return p, nil
	}
	env, err := model.CELEnv()
	if err != nil {
		return nil, err
	}
	p, err := env.Program(a, cel.CostLimit(CELCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	c.in.programs[src] = p
	return p, nil
}

// celPrograms compiles the expressions at path.field.
func (c *compiler) celPrograms(path, field string, srcs []string) []cel.Program {
	var out []cel.Program
	for i, src := range srcs {
		at := fmt.Sprintf("%s.%s[%d]", path, field, i)
		a, err := c.in.cel.Compile(src)
		if err != nil {
			c.errorf(at, "invalid CEL expression: %v", err) // reported by model.CheckPolicy
			continue
		}
		p, err := c.celProgram(src, a)
		if err != nil {
			c.errorf(at, "invalid CEL expression: %v", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

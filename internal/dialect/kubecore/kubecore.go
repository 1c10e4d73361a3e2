// Package kubecore reads the Kubernetes core objects that give vendor
// resources their meaning off a cluster: v1 Service, Secret and ConfigMap
// and discovery.k8s.io/v1 EndpointSlice. It puts them in the load's
// kube.Store, where the vendor dialects find them when they translate
// (backends named as Services, TLS certificates in Secrets, key sets in
// ConfigMaps). The objects themselves serve nothing: each is Accepted
// once it reads cleanly.
//
// Decoding is lenient about fields jwtgate does not use (status,
// managedFields, annotations...), as objects exported from a cluster
// carry many; a field it uses with the wrong type is an error.
package kubecore

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
)

// The apiVersions and kinds this package reads.
const (
	CoreAPIVersion      = "v1"
	DiscoveryAPIVersion = "discovery.k8s.io/v1"

	KindService       = "Service"
	KindSecret        = "Secret"
	KindConfigMap     = "ConfigMap"
	KindEndpointSlice = "EndpointSlice"
)

// New makes the Session of one load. It is a dialect.Family.
func New(env dialect.Env) dialect.Session { return &session{store: env.Kube} }

type session struct {
	store *kube.Store
}

// Decode reads one object into the store.
func (s *session) Decode(doc dialect.Document) dialect.Result {
	o := model.Origin{File: doc.File, Line: doc.Node.Line}
	var meta struct {
		Metadata kube.Meta `yaml:"metadata"`
	}
	_ = doc.Node.Decode(&meta)
	ns := meta.Metadata.Namespace
	if ns == "" {
		ns = model.DefaultNamespace
	}
	o.Ref = model.Ref{APIVersion: doc.APIVersion, Kind: doc.Kind, Namespace: ns, Name: meta.Metadata.Name}
	res := dialect.Result{Resources: []model.Origin{o}}
	fail := func(format string, args ...any) dialect.Result {
		res.Issues = append(res.Issues, model.Issue{Severity: model.Error, Origin: o, Resource: o.Ref.Describe(), Msg: fmt.Sprintf(format, args...)})
		return res
	}
	if meta.Metadata.Name == "" {
		return fail("metadata.name: required")
	}
	added := true
	var err error
	switch doc.Kind {
	case KindService:
		var v kube.Service
		if err = doc.Node.Decode(&v); err == nil {
			v.Metadata.Namespace, v.Origin = ns, o
			added = s.store.AddService(&v)
		}
	case KindEndpointSlice:
		var v kube.EndpointSlice
		if err = doc.Node.Decode(&v); err == nil {
			v.Metadata.Namespace, v.Origin = ns, o
			if !s.store.AddEndpointSlice(&v) {
				return fail("metadata.labels: the label kubernetes.io/service-name must name the slice's Service")
			}
		}
	case KindSecret:
		var v kube.Secret
		if err = doc.Node.Decode(&v); err == nil {
			v.Metadata.Namespace, v.Origin = ns, o
			if v.Data, err = secretData(doc.Node); err == nil {
				added = s.store.AddSecret(&v)
			}
		}
	case KindConfigMap:
		var v kube.ConfigMap
		if err = doc.Node.Decode(&v); err == nil {
			v.Metadata.Namespace, v.Origin = ns, o
			added = s.store.AddConfigMap(&v)
		}
	default:
		return fail("kubecore: kind %q is not read by this dialect", doc.Kind)
	}
	if err != nil {
		if line, msg, ok := typeError(err); ok {
			o.Line = line
			return fail("%s", msg)
		}
		return fail("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if !added {
		return fail("%s %s/%s is defined twice", doc.Kind, ns, meta.Metadata.Name)
	}
	return res
}

var typeErrorRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeError reads the first of a decoding's type errors: its line and
// its message.
func typeError(err error) (int, string, bool) {
	te, ok := err.(*yaml.TypeError)
	if !ok || len(te.Errors) == 0 {
		return 0, "", false
	}
	m := typeErrorRE.FindStringSubmatch(te.Errors[0])
	if m == nil {
		return 0, "", false
	}
	line, _ := strconv.Atoi(m[1])
	return line, m[2], true
}

// secretData decodes a Secret's data (base64) and stringData (plain,
// which wins for the same key, as the API server merges them).
func secretData(n *yaml.Node) (map[string][]byte, error) {
	var raw struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for k, v := range raw.Data {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
		if err != nil {
			return nil, fmt.Errorf("data.%s: not base64", k)
		}
		out[k] = b
	}
	for k, v := range raw.StringData {
		out[k] = []byte(v)
	}
	return out, nil
}

// Finish has nothing left to translate: the objects serve through the
// resources that refer to them.
func (s *session) Finish() dialect.Result { return dialect.Result{} }

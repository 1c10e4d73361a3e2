package config

import (
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/envoygateway"
	"jwtgate.dev/jwtgate/internal/dialect/gatewayapi"
	"jwtgate.dev/jwtgate/internal/dialect/gloo"
	"jwtgate.dev/jwtgate/internal/dialect/istio"
	"jwtgate.dev/jwtgate/internal/dialect/kgateway"
	"jwtgate.dev/jwtgate/internal/dialect/kubecore"
	"jwtgate.dev/jwtgate/internal/dialect/native"
	"jwtgate.dev/jwtgate/internal/dialect/tsb"
)

// entry names the dialect that reads one apiVersion and kind: a
// stateless Dialect, or a family of Sessions (one per load, shared by all
// the kinds listed under the same family name).
type entry struct {
	apiVersion, kind string
	dialect          dialect.Dialect
	family           string
	session          dialect.Family
}

// dialects is every document type the loader reads. A document whose
// apiVersion and kind are not listed here is an error.
var dialects = []entry{
	{apiVersion: native.APIVersion, kind: native.Kind, dialect: native.Dialect{}},
	{apiVersion: kubecore.CoreAPIVersion, kind: kubecore.KindService, family: "kube", session: kubecore.New},
	{apiVersion: kubecore.DiscoveryAPIVersion, kind: kubecore.KindEndpointSlice, family: "kube", session: kubecore.New},
	{apiVersion: kubecore.CoreAPIVersion, kind: kubecore.KindSecret, family: "kube", session: kubecore.New},
	{apiVersion: kubecore.CoreAPIVersion, kind: kubecore.KindConfigMap, family: "kube", session: kubecore.New},
	{apiVersion: istio.SecurityV1, kind: istio.KindRequestAuthentication, family: "istio", session: istio.New},
	{apiVersion: istio.SecurityV1, kind: istio.KindAuthorizationPolicy, family: "istio", session: istio.New},
	{apiVersion: istio.SecurityV1beta1, kind: istio.KindRequestAuthentication, family: "istio", session: istio.New},
	{apiVersion: istio.SecurityV1beta1, kind: istio.KindAuthorizationPolicy, family: "istio", session: istio.New},
	{apiVersion: istio.NetworkingV1, kind: istio.KindGateway, family: "istio", session: istio.New},
	{apiVersion: istio.NetworkingV1, kind: istio.KindVirtualService, family: "istio", session: istio.New},
	{apiVersion: istio.NetworkingV1beta1, kind: istio.KindGateway, family: "istio", session: istio.New},
	{apiVersion: istio.NetworkingV1beta1, kind: istio.KindVirtualService, family: "istio", session: istio.New},
	{apiVersion: istio.NetworkingV1alpha3, kind: istio.KindGateway, family: "istio", session: istio.New},
	{apiVersion: istio.NetworkingV1alpha3, kind: istio.KindVirtualService, family: "istio", session: istio.New},
	{apiVersion: gatewayapi.V1, kind: gatewayapi.KindGateway, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1beta1, kind: gatewayapi.KindGateway, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1, kind: gatewayapi.KindHTTPRoute, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1beta1, kind: gatewayapi.KindHTTPRoute, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1, kind: gatewayapi.KindGRPCRoute, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1alpha2, kind: gatewayapi.KindGRPCRoute, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1, kind: gatewayapi.KindReferenceGrant, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1beta1, kind: gatewayapi.KindReferenceGrant, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1alpha2, kind: gatewayapi.KindReferenceGrant, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1, kind: gatewayapi.KindGatewayClass, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: gatewayapi.V1beta1, kind: gatewayapi.KindGatewayClass, family: "gatewayapi", session: gatewayapi.New},
	{apiVersion: kgateway.V1alpha1, kind: kgateway.KindGatewayExtension, family: "kgateway", session: kgateway.New},
	{apiVersion: kgateway.V1alpha1, kind: kgateway.KindTrafficPolicy, family: "kgateway", session: kgateway.New},
	{apiVersion: kgateway.V1alpha1, kind: kgateway.KindBackend, family: "kgateway", session: kgateway.New},
	{apiVersion: envoygateway.V1alpha1, kind: envoygateway.KindSecurityPolicy, family: "envoygateway", session: envoygateway.New},
	{apiVersion: tsb.GatewayAPIVersion, kind: tsb.KindGateway, family: "tsb", session: tsb.New},
	{apiVersion: tsb.GatewayAPIVersion, kind: tsb.KindEgressGateway, family: "tsb", session: tsb.New},
	{apiVersion: tsb.TrafficAPIVersion, kind: tsb.KindTrafficSetting, family: "tsb", session: tsb.New},
	{apiVersion: tsb.WorkspaceAPIVersion, kind: tsb.KindWorkspace, family: "tsb", session: tsb.New},
	{apiVersion: tsb.GatewayAPIVersion, kind: tsb.KindGroup, family: "tsb", session: tsb.New},
	{apiVersion: tsb.TrafficAPIVersion, kind: tsb.KindGroup, family: "tsb", session: tsb.New},
	{apiVersion: tsb.SecurityAPIVersion, kind: tsb.KindGroup, family: "tsb", session: tsb.New},
	{apiVersion: gloo.NetworkingAPIVersion, kind: gloo.KindRouteTable, family: "gloo", session: gloo.New},
	{apiVersion: gloo.NetworkingAPIVersion, kind: gloo.KindVirtualGateway, family: "gloo", session: gloo.New},
	{apiVersion: gloo.SecurityAPIVersion, kind: gloo.KindJWTPolicy, family: "gloo", session: gloo.New},
}

func findDialect(apiVersion, kind string) *entry {
	for i := range dialects {
		if dialects[i].apiVersion == apiVersion && dialects[i].kind == kind {
			return &dialects[i]
		}
	}
	return nil
}

// supported lists the document types the loader reads, by apiVersion:
// "v1 KindA, KindB; v2 KindC".
func supported() string {
	var versions []string
	kinds := map[string][]string{}
	for _, d := range dialects {
		if kinds[d.apiVersion] == nil {
			versions = append(versions, d.apiVersion)
		}
		kinds[d.apiVersion] = append(kinds[d.apiVersion], d.kind)
	}
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = v + " " + strings.Join(kinds[v], ", ")
	}
	return strings.Join(out, "; ")
}

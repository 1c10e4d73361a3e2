package kgateway

// CELEnv is the environment rbac expressions are checked in, for tests
// that evaluate them with cel-go beside jwtgate's translation.
var CELEnv = celEnv

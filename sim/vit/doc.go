// Package vit holds a Vision Transformer with timm's VisionTransformer and
// DeiT semantics (pre-norm blocks, LayerNorm eps 1e-6, exact erf GELU, a class
// token and an optional distillation token), its checkpoint loader for timm's
// tensor names, and a forward pass whose crossbar-mappable parts (the static
// linears and the per-head attention core) are delegated to an Ops value, so
// that the same forward serves the ideal float model and every crossbar
// configuration.
package vit

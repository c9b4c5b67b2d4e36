// Package crossbar maps matrices to bit-sliced differential memristive
// crossbars and models what happens to them there: quantisation, ClipFormer's
// shift-and-clip transform, write noise (TxSim's conductance-dependent
// formula, per slice or per value), programming noise, read noise and an
// optional n-bit ADC.
//
// It offers two execution paths. The fast path collapses the bit-serial,
// bit-sliced read-out into a product with one effective matrix, exact in
// distribution; the reference path (Array) simulates every slice, polarity,
// row tile and input bit-cycle explicitly and exists to validate the fast
// path and to model the ADC.
//
// Units: conductance in microsiemens; row-vector convention y = x M.
package crossbar

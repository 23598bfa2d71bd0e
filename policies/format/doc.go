// Package format owns rule output strings: parsing Falco's format syntax
// (%field, %field[arg], %Nfield padding, transformers) into tokens once at
// load time, and rendering them for an event, with <NA> for absent values.
package format

"""Stereo: DSMs from pairs of sensor images with RPC models."""

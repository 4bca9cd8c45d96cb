"""Uploaded materials (材料): files stored under their content hash, owned by who uploaded them."""

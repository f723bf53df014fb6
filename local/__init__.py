"""The local loop: moto for AWS, cargo-lambda for the functions, a gateway for the HTTP API.

Everything is derived from template.yaml, so what runs locally is what deploys.
"""

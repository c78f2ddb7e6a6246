"""The wire layer: protobuf messages generated from protocols/proto (vfl/wire/v1) and the
array codecs that turn numpy arrays into them and back, with strict limits. No pickle anywhere.
"""

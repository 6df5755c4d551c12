// A test that imports only TapedeckTesting can name what `withTapedeck` takes and throws.
@_exported public import struct TapedeckServer.ConfigurationError
@_exported public import struct TapedeckServer.TapedeckConfiguration

/// Real-shaped API streams (from the project's wire fact sheet), padding and all, for the fake upstream.
public enum ExampleStreams {
    /// `a_text.sse`
    public static let text: String = #"""
        event: message_start
        data: {"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_0131L17y4Rnz2CzZ83HJZ9uH","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"usage":{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard","inference_geo":"not_available"}}           }

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}          }

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}       }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"! How can I"}        }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" help you today?"}           }

        event: content_block_stop
        data: {"type":"content_block_stop","index":0          }

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null,"stop_details":null},"usage":{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":12}}

        event: message_stop
        data: {"type":"message_stop"    }


        """#

    /// `b_thinking_text.sse`
    public static let thinking: String = #"""
        event: message_start
        data: {"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_01HqU3TRnvdxt1Kk3By2fLPd","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"usage":{"input_tokens":46,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard","inference_geo":"not_available"}}            }

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}              }

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user asks for 27 * 453."}    }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" 27 * 400 = 10800, 27 * 50 = 1350,"} }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" 27 * 3 = 81."}        }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" Sum: 12231."}        }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":""}       }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkgIBxABGAIiQN4DmCioQsMxcNjNU/do4Wq4fnpqStkU2uqe1ToNYftyyB3kN93Dj9N6EmHRxpC+hZu6eSb5x+R7NKZ7X3BkZfvxoUXWpNDX7dYZL+7yL/4DqPdAwNwUmUEDisRZ6vdMn5uXqFLEZxtFpK2ttrNTTqSXGAE="}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0             }

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}  }

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"27 × 453"}       }

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" = **12,231**"}        }

        event: content_block_stop
        data: {"type":"content_block_stop","index":1           }

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null,"stop_details":null},"usage":{"input_tokens":46,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":71,"output_tokens_details":{"thinking_tokens":52}}         }

        event: message_stop
        data: {"type":"message_stop"}


        """#

    /// `c_tool_use.sse`
    public static let toolUse: String = #"""
        event: message_start
        data: {"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_01vdD5Do6j6t33ibR3CaGNNK","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"usage":{"input_tokens":402,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard","inference_geo":"not_available"}}      }

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}  }

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I'll look up"}   }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the current weather in San Francisco."}             }

        event: content_block_stop
        data: {"type":"content_block_stop","index":0         }

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01EcpY18mkYrXbmPzfDw7eHq","name":"get_weather","input":{}}            }

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}   }

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}               }

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Fra"}       }

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\""}              }

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":", \"unit\": \"celsius\"}"}          }

        event: content_block_stop
        data: {"type":"content_block_stop","index":1}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null,"stop_details":null},"usage":{"input_tokens":402,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":68}             }

        event: message_stop
        data: {"type":"message_stop"      }


        """#

    /// `d_stop_sequence.sse`
    public static let stopSequence: String = #"""
        event: message_start
        data: {"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_01xqu5wN6PxnY2Xz9PzhtgA6","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"usage":{"input_tokens":31,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard","inference_geo":"not_available"}}   }

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}         }

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"<answer>"}              }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"42"}      }

        event: content_block_stop
        data: {"type":"content_block_stop","index":0   }

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"</answer>","stop_details":null},"usage":{"input_tokens":31,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}          }

        event: message_stop
        data: {"type":"message_stop"              }


        """#

    /// `e_error_midstream.sse`
    public static let midstreamError: String = #"""
        event: message_start
        data: {"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_01bWg2QQif3HnQet2HpV2XRh","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard","inference_geo":"not_available"}}             }

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}      }

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Here is a long"}           }

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" story about"} }

        event: error
        data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_01YgDRefdoYaGr31p7QABDLy"}


        """#

}

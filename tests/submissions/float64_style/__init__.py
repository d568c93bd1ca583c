"""Float64 intermediates: every product and softmax computed in double, the result returned in float32."""

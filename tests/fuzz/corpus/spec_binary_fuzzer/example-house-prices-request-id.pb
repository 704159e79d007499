
O
house-prices

house_pricesÐ
@ 2		ü©ñÒMbP?B  *)š™™™™™É?retry-example-house-prices
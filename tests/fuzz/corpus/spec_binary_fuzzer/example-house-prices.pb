
O
house-prices

house_pricesÐ
@ 2		ü©ñÒMbP?B  *)š™™™™™É?